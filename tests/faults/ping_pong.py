"""What counts as a ping-pong in a two-way churn (pure rules over what the sandbox and the topics saw).

A write is one call that changed (or tried to change) an organization or a person in Pipedrive, seen by
the sandbox as it served it: who made it (the sync's API token or the person editing in Pipedrive), the
body, and the record before and after.

- A ping-pong write is a write by the sync that has no cause on the ABM side:
  * it restates: every value of the record after the write equals its value before (the sync wrote what
    Pipedrive already held, as a sync does when it takes its own echo for news), or
  * it is uncaused: counting the sync's writes of one record (by match key) in the order served, the n-th
    came before the n-th ABM signal about that record was published (a write with no signal of its own).
- An echo is a Pipedrive version the sync's own write produced: the version (update time) that write left,
  with every value it set, and that no one else's write left too (update times are whole seconds: a
  person's edit of the record in the same second makes a version that is theirs as much as ours).
  An ABM ping-pong change is the mapper creating or updating an ABM record from
  an echo (the outcome of applying that source change) after it had applied both the ABM signal behind
  that write and the write's push result (by the times of the mapper's inbox): a change that came only
  from our own push coming back. An echo that overtook its signal or its push result on the way to the
  mapper does what they do (creates the record, links it) and is counted apart, as a race.
- A same-second write is a sync write whose version has the update time an earlier write of the same
  record left (two pushes of one record, or a create and an update, within one second). The mapper then
  holds a version of that second already and cannot tell by update time (whole seconds) whether the
  written one is later, so it does not take the push's values at once (the same-second guard: taking them
  could put a push's values over a later edit of that second) and leaves them to the echo, which brings
  Pipedrive's current values, the later push's. Its echo changing the store is that rule at work, a
  one-off that writes nothing back, and is counted apart, not as ping-pong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from sync_rules.match_keys import email_match_key, website_match_key

# What a write changes without anyone asking: Pipedrive's bookkeeping.
BOOKKEEPING = frozenset({"update_time", "update_ts"})


@dataclass(frozen=True)
class Write:
    """One write the sandbox served, in the order it served them."""

    seq: int
    at: float
    who: str  # "sync", "editor" or "other"
    entity: str  # "organization" or "person"
    record_id: int | None
    method: str
    body: Mapping[str, Any]
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    status: int

    @property
    def succeeded(self) -> bool:
        """Whether Pipedrive accepted it."""
        return self.status < 300 and self.after is not None


def match_key_of(entity: str, data: Mapping[str, Any] | None) -> str | None:
    """The record's match key as the sync matches it: the website's domain, or the primary email."""
    if not data:
        return None
    if entity == "organization":
        return website_match_key(data.get("website"))
    emails = data.get("emails") or []
    primary = next((e for e in emails if e.get("primary")), emails[0] if emails else None)
    return email_match_key(primary.get("value") if isinstance(primary, Mapping) else None)


def changed_fields(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> set[str]:
    """The fields whose value a write changed (every field of a created record)."""
    after = after or {}
    if before is None:
        return set(after) - BOOKKEEPING
    keys = (set(before) | set(after)) - BOOKKEEPING
    return {k for k in keys if before.get(k) != after.get(k)}


def restated(write: Write) -> bool:
    """A successful update that changed no value of the record."""
    return write.succeeded and write.before is not None and not changed_fields(write.before, write.after)


def uncaused(
    sync_writes: Iterable[Write], signals_at: Mapping[tuple[str, str | None], list[float]]
) -> list[Write]:
    """The sync's writes that outnumber, when served, the ABM signals about their record published before
    them (`signals_at`: publication times per (entity, match key), in order)."""
    found: list[Write] = []
    seen: Counter[tuple[str, str | None]] = Counter()
    for write in sorted(sync_writes, key=lambda w: w.seq):
        key = (write.entity, match_key_of(write.entity, write.before or write.after))
        seen[key] += 1
        times = signals_at.get(key, []) if key[1] is not None else []
        if len([t for t in times if t <= write.at]) < seen[key]:
            found.append(write)
    return found


def is_echo_of(write: Write, record: Mapping[str, Any]) -> bool:
    """Whether a record version read back from Pipedrive is the one `write` left: its update time, and
    every value the write set."""
    after = write.after or {}
    if record.get("update_time") != after.get("update_time"):
        return False
    return all(record.get(k) == after.get(k) for k in changed_fields(write.before, write.after))


def shared_versions(writes: Iterable[Write]) -> set[tuple[str, int | None, Any]]:
    """(entity, record id, update time) of the versions others' writes left: a sync write that left the
    same update time (Pipedrive's are whole seconds) made a version no reader can tell from theirs."""
    return {
        (w.entity, w.record_id, (w.after or {}).get("update_time"))
        for w in writes
        if w.who != "sync" and w.succeeded and w.record_id is not None
    }


def echoes(
    sync_writes: Iterable[Write],
    changes: Iterable[tuple[str, str, int, Mapping[str, Any]]],
    others_versions: AbstractSet[tuple[str, int | None, Any]] = frozenset(),
) -> dict[str, Write]:
    """The source changes (event id, entity, Pipedrive id, record) that are echoes of a sync write, by
    event id, with the write; a version someone else's write also left (`shared_versions`) is theirs as
    much as ours, and no echo."""
    by_record: dict[tuple[str, int], list[Write]] = {}
    for write in sync_writes:
        if write.succeeded and write.record_id is not None:
            by_record.setdefault((write.entity, write.record_id), []).append(write)
    found: dict[str, Write] = {}
    for event_id, entity, pipedrive_id, record in changes:
        if (entity, pipedrive_id, record.get("update_time")) in others_versions:
            continue
        written = [w for w in by_record.get((entity, pipedrive_id), []) if is_echo_of(w, record)]
        if written:
            found[event_id] = written[-1]
    return found


def write_kind(write: Write) -> str:
    """`organization PATCH name`: the entity, the call and the fields it sent."""
    return f"{write.entity} {write.method} {','.join(sorted(write.body))}"


@dataclass(frozen=True)
class EchoApplied:
    """How the mapper applied one echo: its outcome, and whether the ABM signal behind the write and the
    write's push result were applied before it (None: not known)."""

    outcome: str
    after_its_signal: bool | None
    after_its_push_result: bool | None
    same_second: bool = False  # its write is a same-second write (`same_second_writes`)

    @property
    def changed_the_store(self) -> bool:
        """The mapper created or updated an ABM record from it."""
        return self.outcome in ("created", "updated")

    @property
    def ping_pong(self) -> bool:
        """It changed the store although the ABM side had told the mapper all it knew about the write, and
        the push result's values were not left to the echo by the same-second guard."""
        return (
            self.changed_the_store
            and not self.same_second
            and self.after_its_signal is not False
            and (self.after_its_push_result is not False)
        )


def same_second_writes(writes: Iterable[Write]) -> set[int]:
    """The sync's successful writes (by seq) that left the update time an earlier successful write (anyone's)
    of the same record left: the mapper holds a version of that second when their push result comes, and
    leaves their values to the echo."""
    left: set[tuple[str, int, Any]] = set()
    found: set[int] = set()
    for write in sorted(writes, key=lambda w: w.seq):
        if not write.succeeded or write.record_id is None:
            continue
        version = (write.entity, write.record_id, (write.after or {}).get("update_time"))
        if write.who == "sync" and version in left:
            found.add(write.seq)
        left.add(version)
    return found


def pair_push_results(
    sync_writes: Iterable[Write], push_results: Iterable[tuple[str, int, str, str]]
) -> dict[int, tuple[str, str]]:
    """Each successful sync write (by seq) with its push result's (event id, causing signal id): per
    record, the n-th write with the n-th result that created or updated it (`push_results`: object,
    Pipedrive id, event id, causation id, in the order of their partition)."""
    results: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for entity, pipedrive_id, event_id, cause in push_results:
        results.setdefault((entity, pipedrive_id), []).append((event_id, cause))
    taken: Counter[tuple[str, int]] = Counter()
    paired: dict[int, tuple[str, str]] = {}
    for write in sorted(sync_writes, key=lambda w: w.seq):
        if not write.succeeded or write.record_id is None:
            continue
        key = (write.entity, write.record_id)
        found = results.get(key, [])
        if taken[key] < len(found):
            paired[write.seq] = found[taken[key]]
        taken[key] += 1
    return paired
