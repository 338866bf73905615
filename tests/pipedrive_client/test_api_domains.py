"""`api_domain` is accepted only from the allow-list."""

from __future__ import annotations

import pytest

from pipedrive_client import ApiDomainPolicy, ApiDomainRejected
from pipedrive_client.api_domains import web_app_url

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


def test_a_companys_web_app_is_its_api_domain_or_its_company_domain_under_the_shared_api() -> None:
    assert web_app_url("https://acme.pipedrive.com", None) == "https://acme.pipedrive.com"
    assert web_app_url("https://api.pipedrive.com", "Acme") == "https://acme.pipedrive.com"
    assert web_app_url("http://127.0.0.1:8765", "sandbox-demo") == "http://127.0.0.1:8765"
