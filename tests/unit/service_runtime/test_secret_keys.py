"""Secret keys are safe by default: the settings of the services that hold keys refuse none and the
public development key, except in local mode, where the development key is used and reported."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from console.settings import LOCAL_DEV_SERVICE_KEYS_KEY, ConsoleSettings
from pipedrive_client.crypto import LOCAL_DEV_CREDENTIALS_KEY
from pipedrive_client.settings import PipedriveClientSettings

CASES = [
    (PipedriveClientSettings, "PSYNC_CREDENTIALS_KEY", LOCAL_DEV_CREDENTIALS_KEY),
    (ConsoleSettings, "CONSOLE_SERVICE_KEYS_KEY", LOCAL_DEV_SERVICE_KEYS_KEY),
]


@pytest.fixture(autouse=True)
def _no_keys_but_the_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    for _, variable, _ in CASES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("PSYNC_LOCAL_MODE", raising=False)


@pytest.mark.parametrize(("settings", "variable", "development"), CASES)
def test_no_key_and_the_development_key_are_refused_outside_local_mode(
    settings: type[BaseModel], variable: str, development: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match=f"{variable} is not set"):
        settings()
    monkeypatch.setenv(variable, development)
    with pytest.raises(ValidationError, match=f"{variable} is the public development key"):
        settings()


@pytest.mark.parametrize(("settings", "variable", "development"), CASES)
def test_local_mode_uses_the_development_key_and_reports_it(
    settings: type[PipedriveClientSettings | ConsoleSettings],
    variable: str,
    development: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PSYNC_LOCAL_MODE", "true")

    local = settings()

    assert local.development_keys == [variable]
    key = (
        local.current_credentials_key
        if isinstance(local, PipedriveClientSettings)
        else local.current_service_keys_key
    )
    assert key.get_secret_value() == development


@pytest.mark.parametrize(("settings", "variable", "development"), CASES)
def test_a_key_of_ones_own_is_used_without_a_warning(
    settings: type[PipedriveClientSettings | ConsoleSettings],
    variable: str,
    development: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(variable, "ab" * 32)

    own = settings()

    assert own.development_keys == []


def test_old_keys_are_read_comma_separated_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSYNC_CREDENTIALS_KEY", "ab" * 32)
    monkeypatch.setenv("PSYNC_CREDENTIALS_OLD_KEYS", f"{'cd' * 32}, {'ef' * 32}")

    keys = PipedriveClientSettings().old_credentials_keys

    assert [k.get_secret_value() for k in keys] == ["cd" * 32, "ef" * 32]
    monkeypatch.setenv("PSYNC_CREDENTIALS_OLD_KEYS", "not-hex")
    with pytest.raises(ValidationError, match="PSYNC_CREDENTIALS_OLD_KEYS must be 64 hex"):
        PipedriveClientSettings()
