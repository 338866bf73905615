"""`check_key_tenant` compares the key's leading bytes with the tenant's when it can (no decoding): it must
accept and refuse exactly what the check that decodes the key accepts and refuses, with the same reason."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import TenantMismatch, check_key_tenant
from schemas.envelope import CloudEvent
from schemas.keys import tenant_of_key


def old_check(topic: str, key: bytes | None, event: CloudEvent[Any]) -> None:
    """The check as it was: the key decoded (invalid UTF-8 replaced), its tenant compared as text."""
    if key is None:
        raise TenantMismatch(topic, f"no key: tenantid {event.tenantid!r} cannot be checked against one")
    claimed = tenant_of_key(key.decode("utf-8", errors="replace"))
    if claimed != event.tenantid:
        raise TenantMismatch(
            topic, f"tenantid {event.tenantid!r} disagrees with the tenant of the key, {claimed!r}"
        )


def outcome(check: Any, key: bytes | None, tenant: str) -> str | None:
    try:
        check("t", key, CloudEvent.model_construct(tenantid=tenant))
    except TenantMismatch as exc:
        return exc.reason
    return None


CASES: list[tuple[bytes | None, str]] = [
    (b"acme:organization:7", "acme"),
    (b"acme", "acme"),
    (b"acme:", "acme"),
    (b":acme", "acme"),
    (b"acme-2:organization:7", "acme"),
    (b"acm:organization:7", "acme"),
    (b"globex:acme", "acme"),
    (None, "acme"),
    (b"", ""),
    (b":x", ""),
    ("caf\u00e9:x".encode(), "caf\u00e9"),
    (b"caf\xe9:x", "caf\u00e9"),  # Latin-1, not UTF-8
    (b"caf\xff:x", "caf\ufffd"),  # the replacement character the decoding puts there
    (b"\xed\xa0\x80:x", "\ud800"),  # a lone surrogate: no UTF-8 decodes to it
]


@pytest.mark.parametrize(("key", "tenant"), CASES)
def test_the_key_check_agrees_with_decoding_the_key(key: bytes | None, tenant: str) -> None:
    assert outcome(check_key_tenant, key, tenant) == outcome(old_check, key, tenant)


@settings(max_examples=300, deadline=None)
@given(
    tenant=st.text(max_size=6),
    rest=st.binary(max_size=6),
    noise=st.binary(max_size=4),
    shape=st.sampled_from(["tenant", "tenant:rest", "noise", "noise:rest", "tenant+noise:rest"]),
)
def test_any_key_and_tenant_agree_with_decoding_the_key(
    tenant: str, rest: bytes, noise: bytes, shape: str
) -> None:
    own = tenant.encode("utf-8", "surrogatepass")
    key = {
        "tenant": own,
        "tenant:rest": own + b":" + rest,
        "noise": noise,
        "noise:rest": noise + b":" + rest,
        "tenant+noise:rest": own + noise + b":" + rest,
    }[shape]
    assert outcome(check_key_tenant, key, tenant) == outcome(old_check, key, tenant)
