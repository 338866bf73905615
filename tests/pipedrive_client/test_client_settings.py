"""One `PipedriveClientSettings`, read from one set of variables, for the connector and the pusher."""

from __future__ import annotations

import pytest

from connector.settings import ConnectorSettings
from pipedrive_client import ApiDomainRejected, PipedriveClientSettings
from pusher.settings import PusherSettings

SHARED_ENV = {
    "PIPEDRIVE_ALLOWED_TEST_URLS": "http://127.0.0.1:9001, http://localhost:9002",
    "PIPEDRIVE_CLIENT_SCHEMA": "pdc_shared",
    "PIPEDRIVE_BUDGET_SHARE": "0.25",
    "PIPEDRIVE_OAUTH_CLIENT_ID": "app-1",
    "PIPEDRIVE_OAUTH_CLIENT_SECRET": "s3cret",
    "PIPEDRIVE_OAUTH_BASE_URL": "https://oauth.pipedrive.com",
    "PSYNC_CREDENTIALS_KEY": "ab" * 32,
}


def test_connector_and_pusher_read_the_same_client_settings_from_one_set_of_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in SHARED_ENV.items():
        monkeypatch.setenv(name, value)

    connector, pusher = ConnectorSettings().pipedrive, PusherSettings().pipedrive

    assert connector == pusher
    assert connector.allowed_test_urls == ("http://127.0.0.1:9001", "http://localhost:9002")
    assert connector.client_schema == "pdc_shared"
    assert connector.budget_share == 0.25
    assert connector.oauth_configured
    assert connector.current_credentials_key.get_secret_value() == "ab" * 32


def test_the_old_per_service_names_no_longer_configure_the_allow_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PIPEDRIVE_ALLOWED_TEST_URLS", raising=False)
    monkeypatch.setenv("CONNECTOR_SANDBOX_BASE_URLS", '["http://127.0.0.1:9001"]')
    monkeypatch.setenv("PUSHER_PIPEDRIVE_SANDBOX_URLS", "http://127.0.0.1:9001")

    assert ConnectorSettings().pipedrive.allowed_test_urls == ("http://127.0.0.1:8765",)
    assert PusherSettings().pipedrive.allowed_test_urls == ("http://127.0.0.1:8765",)


def test_an_empty_allow_list_allows_only_pipedrive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPEDRIVE_ALLOWED_TEST_URLS", "")

    policy = PipedriveClientSettings().api_domains

    assert policy.accept("https://acme.pipedrive.com") == "https://acme.pipedrive.com"
    with pytest.raises(ApiDomainRejected, match=r"PIPEDRIVE_ALLOWED_TEST_URLS \(none configured\)"):
        policy.accept("http://127.0.0.1:8765")


def test_a_test_url_that_is_not_an_origin_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPEDRIVE_ALLOWED_TEST_URLS", "http://127.0.0.1:8765/api")

    with pytest.raises(ValueError, match="is not an origin"):
        PipedriveClientSettings()


def test_the_refusal_says_what_is_allowed() -> None:
    policy = PipedriveClientSettings(allowed_test_urls=("http://127.0.0.1:8765",)).api_domains

    with pytest.raises(ApiDomainRejected) as refused:
        policy.accept("https://evil.example")

    assert str(refused.value) == (
        "Pipedrive API domain is not allowed: use an https://<company>.pipedrive.com origin (no path, port"
        " or query), or a local/test URL listed in PIPEDRIVE_ALLOWED_TEST_URLS (http://127.0.0.1:8765)"
    )
