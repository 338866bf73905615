"""The kinds of record that sync: Pipedrive's names, which the ABM side pairs with its own."""

from schemas.events.common import SyncObject

__all__ = ["SyncObject"]
