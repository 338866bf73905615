"""JSON Merge Patch (RFC 7396): how a `PATCH` body changes only what it names."""

from __future__ import annotations

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply `patch` to `target` as RFC 7396 says: an object patch merges member by member (a null member
    removes it), anything else replaces the target whole (arrays included). Neither input is changed."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged
