"""The change generator: edits, deletes and merges records as users of the app would (change_source=app)."""

from __future__ import annotations

import random
from typing import Any

from pipedrive_sandbox.entities import EntityService
from pipedrive_sandbox.events import ChangeSource
from pipedrive_sandbox.store import Entity, Record


def generate_changes(
    service: EntityService, rng: random.Random, entity: Entity, edits: int, deletes: int, merges: int
) -> list[dict[str, Any]]:
    """Apply `edits`, `deletes` and `merges` to random live records of `entity`; return what was done."""
    done: list[dict[str, Any]] = []
    owners = list(service.account.users)
    for _ in range(edits):
        record = _pick_live(service, rng, entity)
        if record is None:
            break
        changes = _edit_for(entity, record, rng)
        service.update(entity, record.id, changes, rng.choice(owners), ChangeSource.APP)
        done.append({"action": "change", "entity": entity.value, "id": record.id, "fields": sorted(changes)})
    for _ in range(deletes):
        record = _pick_live(service, rng, entity)
        if record is None:
            break
        service.delete(entity, record.id, rng.choice(owners), ChangeSource.APP)
        done.append({"action": "delete", "entity": entity.value, "id": record.id})
    for _ in range(merges):
        loser, survivor = _pick_live(service, rng, entity), _pick_live(service, rng, entity)
        if loser is None or survivor is None or loser.id == survivor.id:
            continue
        service.merge(entity, loser.id, survivor.id, rng.choice(owners), ChangeSource.APP)
        done.append({"action": "merge", "entity": entity.value, "id": loser.id, "merge_with_id": survivor.id})
    return done


def _pick_live(service: EntityService, rng: random.Random, entity: Entity) -> Record | None:
    table = service.tables[entity]
    if not table.records:
        return None
    for _ in range(50):
        record = table.records.get(rng.randint(1, table.next_id - 1))
        if record is not None and record.deleted_ts is None:
            return record
    return next(table.live(), None)


def _edit_for(entity: Entity, record: Record, rng: random.Random) -> dict[str, Any]:
    if entity is Entity.ORGANIZATION:
        if rng.random() < 0.5:
            return {"name": record.data["name"] + rng.choice((" Group", " Holding", " International"))}
        return {"employee_count": rng.randint(1, 10000)}
    if entity is Entity.PERSON:
        new_email = {
            "value": f"p{record.id}.{rng.randint(1, 999)}@example.org",
            "primary": False,
            "label": "other",
        }
        return {"emails": [*record.data["emails"], new_email]}
    return {"value": rng.randint(1, 900) * 100}
