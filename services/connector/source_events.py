"""Source changes as events: what the connector emits for one Pipedrive record version (pure).

Event ids derive from (tenant, object, id, update_time, action), the digest of the record's content (two
edits within one second share an update_time) and, for imports, the import id: a re-read of the same
version emits the same id, so consumers drop what they already applied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import AwareDatetime, TypeAdapter

from connector.queued_runs import RESYNC_TRIGGER
from pipedrive_client.rows import V2_TIME_TEXT, RecordRow
from schemas import sources
from schemas.catalog import build_event, event_type
from schemas.codec import EnvelopeTemplate, cut_at_placeholders, envelope_time
from schemas.envelope import event_id_of_name
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, ImportContext, SourceChange
from schemas.keys import source_change_key
from schemas.topics import BULK_SOURCE_CHANGES, SOURCE_CHANGES
from stream_runner.messages import OutgoingMessage

_SOURCE_CHANGED = event_type("psync.source.changed").name
_TIME = TypeAdapter(AwareDatetime)
_UPSERTED = ChangeAction.UPSERTED.value
_ZERO = timedelta(0)
_PROBE_ID, _PROBE_TIME, _PROBE_RECORD = "\x00id", "\x00time", "\x00record"


def source_change_topic(origin: ChangeOrigin, *, bulk: bool = False) -> str:
    """The topic of a change: bulk work's (an import's, or a sync's `bulk` read: an object's whole list on
    its first read, or an operator's resync) on a topic of its own, read only when nothing else waits
    (`TopicSpec.bulk`), so that it never queues ahead of another tenant's live changes; every other change
    on the live one."""
    return BULK_SOURCE_CHANGES.name if origin is ChangeOrigin.IMPORT or bulk else SOURCE_CHANGES.name


def sync_read_is_bulk(cursor: datetime | None, trigger: str) -> bool:
    """Whether a sync's read of an object is bulk work (`source_change_topic`): its first read (no cursor
    yet: the object's whole list) or an operator's resync (`RESYNC_TRIGGER`: a re-read from a time)."""
    return cursor is None or trigger == RESYNC_TRIGGER


def version_stamp(update_time: datetime) -> str:
    """The second-precision UTC stamp of a record version (Pipedrive's timestamps have seconds)."""
    return update_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_BLAKE2B_16 = hashlib.blake2b(digest_size=16)
"""An empty 16-byte BLAKE2b, copied per digest: a copy costs half of building one with its parameters."""


def record_digest(record: Mapping[str, Any]) -> str:
    """A digest of a record's content, independent of key order."""
    hashed = _BLAKE2B_16.copy()
    hashed.update(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))
    return hashed.hexdigest()


def source_change_message(
    tenant: str,
    change: SourceChange,
    *,
    run_id: str,
    now: datetime,
    digest: str | None = None,
    bulk: bool = False,
) -> OutgoingMessage:
    """The keyed `psync.source.changed` message of one change, correlated with its run (`digest`: the
    record's, when the caller computed it already)."""
    id_parts: tuple[object, ...] = (
        change.object.value,
        change.pipedrive_id,
        version_stamp(change.update_time),
        change.action.value,
    )
    if change.record is not None:
        id_parts = (*id_parts, digest or record_digest(change.record))
    if change.import_context is not None:
        id_parts = (*id_parts, change.import_context.import_id)
    event = build_event(
        change,
        tenant=tenant,
        subject=source_change_key(tenant, change.object, change.pipedrive_id),
        source=sources.CONNECTOR,
        id_parts=id_parts,
        time=now,
        correlationid=run_id,
    )
    return OutgoingMessage.of_event(source_change_topic(change.origin, bulk=bulk), event)


class UpsertEncoder:
    """The messages of upserted records of one page, built straight as JSON: the bytes
    `source_change_message(upserted(...))` gives (a unit test compares them), at a fraction of its cost
    (no pydantic model per record: a page of 500 is most of an import's time otherwise). What is the same
    for every record of the page (the event id's leading parts, the key's prefix, the envelope's shared
    attributes and the payload's JSON around the record's id, time and attributes) is prepared once: a
    record costs its event id and the JSON of its attributes.

    Records the contract would refuse (a pipedrive id below 1, an update_time without a zone) take the
    validated path, which raises as before.
    """

    def __init__(
        self,
        tenant: str,
        obj: SyncObject,
        origin: ChangeOrigin,
        *,
        run_id: str,
        now: datetime,
        import_context: ImportContext | None = None,
        bulk: bool = False,
    ) -> None:
        self._tenant, self._obj, self._origin = tenant, obj, origin
        self._topic, self._bulk = source_change_topic(origin, bulk=bulk), bulk
        self._run_id, self._now, self._import_context = run_id, now, import_context
        self._key_prefix = source_change_key(tenant, obj, 0)[:-1]
        self._id_prefix = f"{_SOURCE_CHANGED}\x1f{tenant}\x1f{obj.value}\x1f"
        self._id_suffix = f"\x1f{import_context.import_id}" if import_context is not None else ""
        self._envelope = EnvelopeTemplate(
            source=sources.CONNECTOR,
            event_type=_SOURCE_CHANGED,
            time=envelope_time(now),
            tenant=tenant,
            correlationid=run_id,
        )
        # The payload's JSON around its three parts of a record: the attributes in the order (and with
        # the values) the validated path dumps them, the parts replaced by placeholders.
        data: dict[str, Any] = {
            "object": obj.value,
            "pipedrive_id": _PROBE_ID,
            "action": _UPSERTED,
            "update_time": _PROBE_TIME,
            "record": _PROBE_RECORD,
            "origin": origin.value,
        }
        if import_context is not None:
            data["import_context"] = import_context.model_dump(mode="json")
        self._data_head, self._before_time, self._before_record, self._data_tail = cut_at_placeholders(
            orjson.dumps(data), _PROBE_ID, _PROBE_TIME, _PROBE_RECORD
        )
        # The whole message's JSON around a record's event id, pipedrive id (twice: the subject's end and
        # the payload's), stamp and attributes, for a stamp written as API v2 writes times (ASCII that
        # JSON writes as it is, between quotes). The event id is hex digits and dashes, the subject the
        # key's prefix (its JSON without the closing quote) and the digits of the id.
        head, middle, tail = self._envelope.pieces
        self._pieces = (
            head + b'"',
            b'"' + middle + orjson.dumps(self._key_prefix)[:-1],
            b'"' + tail + self._data_head,
            self._before_time + b'"',
            b'"' + self._before_record,
            self._data_tail + b"}",
        )

    def messages(self, versions: Sequence[tuple[RecordRow, tuple[datetime, str]]]) -> list[OutgoingMessage]:
        """The messages of many upserted record versions (a row and its (update_time, digest) each), in
        order: `message` of each, the usual one (an id from 1, its update_time written as API v2 writes
        times, `RecordRow.plain_time`) encoded in this one loop (`_stamped`), without `message`'s checks."""
        key_prefix, stamped, topic = self._key_prefix, self._stamped, self._topic
        messages: list[OutgoingMessage] = []
        append = messages.append
        for row, (update_time, digest) in versions:
            record, pipedrive_id = row.values, row.values["id"]
            if not row.plain_time or type(pipedrive_id) is not int or pipedrive_id < 1:
                append(self.message(record, update_time, digest, plain_time=row.plain_time))
                continue
            number = str(pipedrive_id)
            append(
                OutgoingMessage(
                    topic, key_prefix + number, stamped(number, record["update_time"], digest, record)
                )
            )
        return messages

    def _stamped(self, number: str, stamp: str, digest: str, record: dict[str, Any]) -> bytes:
        """The message's bytes for a record version whose stamp is its update_time as API v2 writes times
        (ASCII that JSON writes as it is): one join of the pieces around its id, stamp and record."""
        name = f"{self._id_prefix}{number}\x1f{stamp}\x1f{_UPSERTED}\x1f{digest}{self._id_suffix}"
        digits = number.encode()
        head, after_id, after_subject, before_time, after_time, tail = self._pieces
        return b"".join(
            (
                head,
                event_id_of_name(name).encode(),
                after_id,
                digits,
                after_subject,
                digits,
                before_time,
                stamp.encode(),
                after_time,
                orjson.dumps(record),
                tail,
            )
        )

    def message(
        self, record: dict[str, Any], update_time: datetime, digest: str, *, plain_time: bool = False
    ) -> OutgoingMessage:
        """The message of one upserted record version (`record` as JSON values, `digest` its digest).
        `plain_time`: `record["update_time"]` is `update_time` as API v2 writes times, checked when the
        record was read (`RecordRow.plain_time`), so it is the stamp as it is."""
        pipedrive_id = int(record["id"])
        if pipedrive_id < 1 or update_time.tzinfo is None:
            change = upserted(self._obj, record, update_time, self._origin, self._import_context)
            return source_change_message(
                self._tenant, change, run_id=self._run_id, now=self._now, digest=digest,
                bulk=self._bulk,
            )  # fmt: skip
        stamp = record["update_time"] if plain_time else written_stamp(record.get("update_time"), update_time)
        number = str(pipedrive_id)
        key = self._key_prefix + number
        if stamp is not None:  # as API v2 writes times: the message as one join of its pieces
            return OutgoingMessage(self._topic, key, self._stamped(number, stamp, digest, record))
        stamp, written = version_stamp(update_time), _TIME.dump_python(update_time, mode="json")
        name = f"{self._id_prefix}{pipedrive_id}\x1f{stamp}\x1f{_UPSERTED}\x1f{digest}{self._id_suffix}"
        data = b"".join(
            (
                self._data_head,
                str(pipedrive_id).encode(),
                self._before_time,
                orjson.dumps(written),
                self._before_record,
                orjson.dumps(record),
                self._data_tail,
            )
        )
        return OutgoingMessage(self._topic, key, self._envelope.encode(event_id_of_name(name), key, data))


def written_stamp(written: Any, update_time: datetime) -> str | None:
    """`written` when it is `update_time` as API v2 writes times (`YYYY-MM-DDTHH:MM:SSZ`, a year from
    1000): then it is both the version's stamp and the time as the event carries it, with no formatting
    (None otherwise)."""
    if (
        type(written) is str
        and V2_TIME_TEXT.fullmatch(written) is not None
        and update_time.utcoffset() == _ZERO
        and datetime.fromisoformat(written) == update_time
    ):
        return written
    return None


def upserted(
    obj: SyncObject,
    record: dict[str, Any],
    update_time: datetime,
    origin: ChangeOrigin,
    import_context: ImportContext | None = None,
) -> SourceChange:
    """A created or changed record, carried whole."""
    return SourceChange(
        object=obj,
        pipedrive_id=int(record["id"]),
        action=ChangeAction.UPSERTED,
        update_time=update_time,
        record=record,
        origin=origin,
        import_context=import_context,
    )


def deleted(obj: SyncObject, pipedrive_id: int, at: datetime, origin: ChangeOrigin) -> SourceChange:
    """A record deleted in Pipedrive."""
    return SourceChange(
        object=obj, pipedrive_id=pipedrive_id, action=ChangeAction.DELETED, update_time=at, origin=origin
    )


def merged(obj: SyncObject, pipedrive_id: int, into: int, at: datetime, origin: ChangeOrigin) -> SourceChange:
    """A record merged into `into` (and gone)."""
    return SourceChange(
        object=obj,
        pipedrive_id=pipedrive_id,
        action=ChangeAction.MERGED,
        update_time=at,
        merged_into_id=into,
        origin=origin,
    )
