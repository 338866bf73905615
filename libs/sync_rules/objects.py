"""The kinds of record that sync: Pipedrive's names, which the ABM side pairs with its own."""

from enum import StrEnum


class SyncObject(StrEnum):
    """A synced object, named as in Pipedrive; the ABM side calls them account, contact, opportunity."""

    ORGANIZATION = "organization"
    PERSON = "person"
    DEAL = "deal"
