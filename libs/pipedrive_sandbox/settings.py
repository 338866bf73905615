"""Environment settings of the standalone sandbox (`SANDBOX_*`), read only by the entrypoint."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipedrive_sandbox.config import Plan


class SandboxSettings(BaseSettings):
    """SANDBOX_HOST, SANDBOX_PORT, SANDBOX_PLAN, SANDBOX_SEATS, SANDBOX_SEED, SANDBOX_ORGANIZATIONS,
    SANDBOX_API_TOKEN, SANDBOX_PUBLIC_URL, SANDBOX_OAUTH_CLIENT_ID, SANDBOX_OAUTH_CLIENT_SECRET (the
    registered OAuth app; generated when not given)."""

    model_config = SettingsConfigDict(env_prefix="SANDBOX_")

    host: str = "127.0.0.1"
    port: int = 8765
    plan: Plan = Plan.LITE
    seats: int = 1
    seed: int = 1
    organizations: int = 1000
    api_token: SecretStr | None = None
    public_url: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
