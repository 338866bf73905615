"""`api_domain` is accepted only from the allow-list."""

from __future__ import annotations

import pytest

from pipedrive_client import ApiDomainPolicy, ApiDomainRejected

POLICY = ApiDomainPolicy(allowed_test_urls=("http://127.0.0.1:8765",))


@pytest.mark.parametrize(
    ("given", "accepted"),
    [
        ("https://acme.pipedrive.com", "https://acme.pipedrive.com"),
        ("https://API.Pipedrive.com/", "https://api.pipedrive.com"),
        ("https://a-b.eu.pipedrive.com", "https://a-b.eu.pipedrive.com"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
    ],
)
def test_pipedrive_hosts_and_the_configured_sandbox_are_accepted(given: str, accepted: str) -> None:
    assert POLICY.accept(given) == accepted


@pytest.mark.parametrize(
    "given",
    [
        "http://acme.pipedrive.com",
        "https://pipedrive.com",
        "https://pipedrive.com.evil.example",
        "https://evilpipedrive.com",
        "https://acme.pipedrive.com:8443",
        "https://user:pw@acme.pipedrive.com",
        "https://evil.example#.pipedrive.com",
        "https://evil.example/?.pipedrive.com",
        "https://acme.pipedrive.com/api/v2",
        "https://acme_x.pipedrive.com",
        "http://127.0.0.1:8766",
        "ftp://acme.pipedrive.com",
        "acme.pipedrive.com",
        "",
    ],
)
def test_anything_else_is_rejected_with_a_typed_error(given: str) -> None:
    with pytest.raises(ApiDomainRejected):
        POLICY.accept(given)
