"""Incremental reads as values: where the next read starts, what a record version is, and which versions
of a page are new.

The overlap rule: a page read from `cursor - overlap` holds versions already emitted; only a version newer
than the last one emitted for its record is emitted again. A version is the record's second-precision
update_time and a digest of its content: Pipedrive stamps whole seconds, so two edits of one record within
a second share an update_time and only their content tells them apart. (`cursor_store` keeps the cursors
and the versions emitted.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta


def read_from(cursor: datetime | None, overlap_seconds: int) -> datetime | None:
    """`updated_since` of the next incremental read: the cursor minus the overlap (None: read all)."""
    return None if cursor is None else cursor - timedelta(seconds=overlap_seconds)


Version = tuple[datetime, str | None]
"""A record version: its update_time (whole seconds) and the digest of its content (None for a deletion,
and for versions stored before digests were kept)."""


def is_newer(version: Version, last: Version | None) -> bool:
    """Whether `version` comes after `last`: a later update_time, or the same second with other content.
    Within one second a deletion comes after a live version with content: Pipedrive stamps whole seconds,
    so a record created (or changed) and deleted within one second has one update_time for both, and the
    deletion is the record's last word. Nothing comes after a stored version without a digest within its
    second (a deletion emitted, or a version stored before digests were kept)."""
    if last is None:
        return True
    (at, digest), (last_at, last_digest) = version, last
    if at != last_at:
        return at > last_at
    if last_digest is None:
        return False
    return digest is None or digest != last_digest


def new_versions(
    versions: Iterable[tuple[int, Version]], emitted: Mapping[int, Version]
) -> list[tuple[int, Version]]:
    """The (id, version) pairs newer than the version last emitted for that id, first seen first."""
    fresh: dict[int, Version] = {}
    for record_id, version in versions:
        last = fresh.get(record_id) or emitted.get(record_id)
        if is_newer(version, last):
            fresh[record_id] = version
    return list(fresh.items())


def merged_versions(pages: Iterable[Iterable[tuple[int, Version]]]) -> list[tuple[int, Version]]:
    """The versions of several pages, to be stored as one: per id, what storing the pages one after the
    other keeps (`cursor_store.versions_upsert`: the later page's version when its update_time is not
    older, else the earlier one's), in first-seen order."""
    merged: dict[int, Version] = {}
    for page in pages:
        for record_id, version in page:
            kept = merged.get(record_id)
            if kept is None or version[0] >= kept[0]:
                merged[record_id] = version
    return list(merged.items())
