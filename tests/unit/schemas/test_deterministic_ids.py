"""`deterministic_event_id`: the ids the mapper makes of its values."""

from __future__ import annotations

from schemas.envelope import deterministic_event_id
from schemas.events.common import SyncObject


def test_an_object_given_as_its_enum_gives_the_id_of_its_value() -> None:
    # The mapper hands deterministic_event_id the SyncObject itself (its new ABM record ids).
    for obj in SyncObject:
        for tenant, pipedrive_id in [("acme", 1), ("t-ü.x", 987654321)]:
            assert deterministic_event_id("abm-record", tenant, obj, pipedrive_id) == deterministic_event_id(
                "abm-record", tenant, obj.value, pipedrive_id
            )
