"""Checking the sandbox against Pipedrive's published OpenAPI specs with openapi-core.

The specs are MBs of YAML: they are parsed once per session and cached as a pickle under `.state/`.

`KNOWN_SPEC_GAPS` lists where the published spec and Pipedrive's real answers disagree; the sandbox answers
as Pipedrive does, and the spec is patched for exactly these properties before validation.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml
from jsonschema import FormatChecker
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.schemas.datatypes import FormatValidatorsDict
from openapi_core.validation.schemas.factories import SchemaValidatorsFactory

SPEC_DIR = Path(__file__).resolve().parents[3] / "shared" / "pipedrive"
CACHE_DIR = Path(__file__).resolve().parents[2] / ".state" / "spec-cache"
SPEC_FILES = {
    "v2": "openapi-v2.yaml",
    "v1": "openapi-v1.yaml",
    "legacy": "openapi-v1-legacy-entities-2026-01.yaml",
}
SPEC_HOSTS = {
    "v2": ("https://api.pipedrive.com", "/api/v2"),
    "v1": ("https://api.pipedrive.com", "/v1"),
    "legacy": ("https://api.pipedrive.com", "/v1"),
}

# Properties Pipedrive answers with null although the spec does not mark them nullable:
# - next_cursor: null on the last page (documented in prose: "next_cursor null at the end");
# - person.org_id, deal.person_id/org_id: null when the record is not linked;
# - picture_id: null without a picture;
# - won_time/lost_time/stage_change_time/expected_close_date: null until set;
# - organization address (object in v2 entities, string in search items): null when no address was entered;
# - search item organization (persons): null for persons without an organization;
# - v1 deals: close_time/won_time/lost_time are null until the deal is closed, won or lost, and
#   next_activity_date/next_activity_time are null without a planned activity;
# - v2 activities: the links (deal, lead, project), due_time, duration, location, public_description,
#   priority and note are null when not given, marked_as_done_time until the activity is done.
V1_GAPS = (
    "close_time",
    "won_time",
    "lost_time",
    "next_activity_date",
    "next_activity_time",
    "stage_change_time",
    "expected_close_date",
)
KNOWN_SPEC_GAPS = {
    "v2": (
        "next_cursor",
        "org_id",
        "person_id",
        "picture_id",
        "won_time",
        "lost_time",
        "stage_change_time",
        "expected_close_date",
        "address",
        "organization",
        "deal_id",
        "lead_id",
        "project_id",
        "due_time",
        "duration",
        "location",
        "marked_as_done_time",
        "public_description",
        "priority",
        "note",
    ),
    "v1": V1_GAPS,
    "legacy": V1_GAPS,
}

# Request parameters whose schema is narrower than the prose around it:
# - getRecents `items`: "Multiple selection of item types", a comma-separated list of the enum's values
#   (the schema lists the enum for a single value).
RECENT_ITEMS = "(activity|activityType|deal|file|filter|note|person|organization|pipeline|product|stage|user)"
KNOWN_REQUEST_GAPS = {
    "v1": {("/recents", "items"): {"type": "string", "pattern": f"^{RECENT_ITEMS}(,{RECENT_ITEMS})*$"}},
}


_copied_format_checker = SchemaValidatorsFactory.get_format_checker


def _shared_format_checker(
    self: SchemaValidatorsFactory,
    format_validators: FormatValidatorsDict | None = None,
    extra_format_validators: FormatValidatorsDict | None = None,
) -> FormatChecker:
    """The factory's own format checker when no validators are added to it, not a deep copy of it.

    openapi-core builds a schema validator for every parameter and body of every request and response it
    validates, and deep-copies the format checker for each so that added format validators never reach
    the shared one: a fifth of the CPU of a request's validation (1,100 requests of a connector
    integration run took 8.3 s). Nothing is added here (no `extra_format_validators` in `Specs.load`'s
    config), and validating never changes a checker, so the one checker serves every validator alike.
    """
    if format_validators is None and extra_format_validators is None:
        return self.format_checker
    return _copied_format_checker(self, format_validators, extra_format_validators)


SchemaValidatorsFactory.get_format_checker = _shared_format_checker  # type: ignore[method-assign]


def _load_patched(name: str) -> dict[str, Any]:
    path = SPEC_DIR / SPEC_FILES[name]
    gaps = repr((KNOWN_SPEC_GAPS[name], KNOWN_REQUEST_GAPS.get(name))).encode()
    digest = hashlib.sha256(path.read_bytes() + gaps).hexdigest()[:16]
    cached = CACHE_DIR / f"{name}-{digest}.pickle"
    if cached.exists():
        return _unpickled(cached)
    # One test process parses, the others (pytest -n) wait for its pickle: on a fresh clone each would
    # otherwise parse the same MBs of YAML at once (2.6 s of CPU for the three, 0.6 s from the pickles).
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (CACHE_DIR / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _unpickled(cached) if cached.exists() else _parsed(name, path, cached)


def _unpickled(cached: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = pickle.loads(cached.read_bytes())
    return loaded


def _parsed(name: str, path: Path, cached: Path) -> dict[str, Any]:
    """The spec parsed and patched, and kept in `cached`."""
    spec: dict[str, Any] = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    _mark_nullable(spec, set(KNOWN_SPEC_GAPS[name]))
    for (spec_path, parameter), schema in KNOWN_REQUEST_GAPS.get(name, {}).items():
        for declared in spec["paths"][spec_path]["get"]["parameters"]:
            if declared.get("name") == parameter:
                declared["schema"] = schema
    # Written aside and renamed: another test process may be reading the cache file (a previous one's).
    written = cached.with_suffix(f".{os.getpid()}.tmp")
    written.write_bytes(pickle.dumps(spec))
    written.replace(cached)
    return spec


def _mark_nullable(node: Any, names: set[str]) -> None:
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            for key, schema in properties.items():
                if key in names and isinstance(schema, dict) and "$ref" not in schema:
                    schema["nullable"] = True
        for value in node.values():
            _mark_nullable(value, names)
    elif isinstance(node, list):
        for item in node:
            _mark_nullable(item, names)


@dataclass(repr=False)
class Specs:
    """The three parsed specs, as raw dicts and as openapi-core validators."""

    raw: dict[str, dict[str, Any]]
    validators: dict[str, OpenAPI]

    def __repr__(self) -> str:
        """Their names only. The dataclass's repr of the whole specs is 3.3 MB and takes 0.2 s, and asyncio
        makes it twice for every async fixture or test on the loop whose finished task's result holds the
        specs (Python 3.11's `signal.getsignal` builds a ValueError message naming the SIGINT handler, which
        names the task and its result): 58% of the CPU of a run of test_spec_conformance.py."""
        return f"Specs({sorted(self.raw)})"

    @classmethod
    def load(cls) -> Specs:
        """Parse (or load cached) specs and build validators without re-validating the specs themselves."""
        raw = {name: _load_patched(name) for name in SPEC_FILES}
        validators = {
            name: OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))
            for name, spec in raw.items()
        }
        return cls(raw, validators)

    def operation(self, name: str, method: str, path: str) -> dict[str, Any]:
        """The spec's operation object for a templated path (without the API prefix)."""
        operation: dict[str, Any] = self.raw[name]["paths"][path][method.lower()]
        return operation

    def check(
        self,
        name: str,
        method: str,
        url: str,
        request_headers: dict[str, str],
        request_body: bytes | None,
        status: int,
        response_body: bytes,
        content_type: str,
        check_request: bool = True,
    ) -> None:
        """Validate one exchange: the request (when asked) and the response, raising on any mismatch.

        Responses with a status the operation does not document are not validated (the spec has no schema
        for them); callers assert those bodies themselves.
        """
        host, prefix = SPEC_HOSTS[name]
        parts = urlsplit(url)
        path = parts.path
        assert path.startswith(prefix), f"{path} is not under {prefix}"
        request = MockRequest(
            host,
            method.lower(),
            path,
            args=dict(parse_qsl(parts.query)),
            headers=request_headers,
            data=request_body,
        )
        validator = self.validators[name]
        if check_request:
            validator.validate_request(request)
        documented = self._documented_statuses(name, method, path[len(prefix) :])
        if str(status) in documented or "default" in documented:
            response = MockResponse(response_body, status_code=status, content_type=content_type)
            validator.validate_response(request, response)

    def _documented_statuses(self, name: str, method: str, path: str) -> set[str]:
        spec_paths = self.raw[name]["paths"]
        for template, item in spec_paths.items():
            if _template_matches(template, path) and method.lower() in item:
                return set(item[method.lower()].get("responses", {}))
        raise AssertionError(f"{method} {path} is not in the {name} spec")


def _template_matches(template: str, path: str) -> bool:
    left, right = template.strip("/").split("/"), path.strip("/").split("/")
    return len(left) == len(right) and all(
        a == b or a.startswith("{") for a, b in zip(left, right, strict=True)
    )
