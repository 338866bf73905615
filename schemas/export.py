"""Writes the contract artifacts: JSON Schema per event type, examples, the registry document and the
AsyncAPI document of every topic (`schemas/asyncapi.json`).

`python -m schemas.export` regenerates them; `python -m schemas.export --check` exits 1 when the
checked-in files are stale (CI runs the same comparison as a test).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import orjson

from schemas.asyncapi import asyncapi_document
from schemas.catalog import EVENT_TYPES
from schemas.example_events import example_events
from schemas.topics import ALL_TOPICS

SCHEMAS_DIR = Path(__file__).resolve().parent
_DUMP = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


def render_artifacts() -> dict[Path, bytes]:
    """Every generated file, by path, as it should be on disk."""
    files: dict[Path, bytes] = {}
    for kind in EVENT_TYPES:
        schema = kind.envelope.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"urn:psync:schema:{kind.name}"
        schema["title"] = f"{kind.name} on {' and '.join(t.name for t in kind.topics)}"
        files[SCHEMAS_DIR / "jsonschema" / f"{kind.name}.schema.json"] = orjson.dumps(schema, option=_DUMP)
    for event in example_events():
        body = event.model_dump(mode="json", exclude_none=True)
        files[SCHEMAS_DIR / "examples" / f"{event.type}.json"] = orjson.dumps(body, option=_DUMP)
    registry = [dataclasses.asdict(t) for t in ALL_TOPICS]
    files[SCHEMAS_DIR / "registry.json"] = orjson.dumps(registry, option=_DUMP)
    files[SCHEMAS_DIR / "asyncapi.json"] = orjson.dumps(asyncapi_document(), option=_DUMP)
    return files


def stale_artifacts() -> list[Path]:
    """Generated files whose checked-in content differs from what the models produce now."""
    return [p for p, body in render_artifacts().items() if not p.exists() or p.read_bytes() != body]


def main(argv: list[str] | None = None) -> int:
    """Regenerate (default) or check (`--check`) the artifacts."""
    parser = argparse.ArgumentParser(prog="python -m schemas.export")
    parser.add_argument("--check", action="store_true", help="fail when the checked-in files are stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_artifacts()
        for path in stale:
            print(f"stale: {path.relative_to(SCHEMAS_DIR.parent)}", file=sys.stderr)
        return 1 if stale else 0
    for path, body in render_artifacts().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
