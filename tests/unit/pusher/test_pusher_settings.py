"""The pusher refuses a pool too small for the pushes it runs at once (`PUSHER_TENANT_CONCURRENCY`)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pusher.settings import PusherSettings


@pytest.fixture(autouse=True)
def _local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSYNC_LOCAL_MODE", "true")  # no credentials key needed
    for name in ("PUSHER_DB_POOL_SIZE", "PUSHER_TENANT_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)


def test_the_default_pool_serves_the_default_concurrency() -> None:
    settings = PusherSettings()

    assert settings.db_pool_size >= 2 * settings.tenant_concurrency + 2


def test_a_pool_too_small_for_the_concurrency_is_refused_naming_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSHER_TENANT_CONCURRENCY", "8")

    with pytest.raises(
        ValidationError, match="PUSHER_DB_POOL_SIZE 10 is below 2 x PUSHER_TENANT_CONCURRENCY"
    ):
        PusherSettings()
    monkeypatch.setenv("PUSHER_DB_POOL_SIZE", "18")
    assert PusherSettings().tenant_concurrency == 8
