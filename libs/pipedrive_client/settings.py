"""`PipedriveClientSettings`: how every service that calls Pipedrive builds its client, from one set of
environment variables shared by the connector and the pusher (`PIPEDRIVE_*`, the credentials key
`PSYNC_CREDENTIALS_KEY`, the keys of a rotation `PSYNC_CREDENTIALS_OLD_KEYS`, and `PSYNC_LOCAL_MODE`),
so both allow the same base URLs, read the same credentials and budget schema, refresh with the same
OAuth app and spend the same share of the budget."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pipedrive_client.api_domains import ApiDomainPolicy, origin_of
from pipedrive_client.budget import BudgetPolicy
from pipedrive_client.crypto import (
    CREDENTIALS_KEY_ENV,
    KEY_BYTES,
    LOCAL_DEV_CREDENTIALS_KEY,
    OLD_CREDENTIALS_KEYS_ENV,
)
from pipedrive_client.database import DEFAULT_SCHEMA
from service_runtime.secret_keys import LOCAL_MODE_ENV, checked_secret_key

LOCAL_SANDBOX_URL = "http://127.0.0.1:8765"


class PipedriveClientSettings(BaseSettings):
    """Settings of the shared Pipedrive client (`PIPEDRIVE_*`)."""

    model_config = SettingsConfigDict(env_prefix="PIPEDRIVE_", extra="ignore", frozen=True)

    allowed_test_urls: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(LOCAL_SANDBOX_URL,),
        description="Comma-separated origins (scheme://host:port) the client may call besides https "
        "*.pipedrive.com: the local sandbox. Set it empty in production.",
    )
    client_schema: str = Field(
        default=DEFAULT_SCHEMA, description="PostgreSQL schema of the credentials and the budget."
    )
    credentials_key: SecretStr | None = Field(
        default=None,
        validation_alias=CREDENTIALS_KEY_ENV,
        description="AES-256 key (64 hex characters) of the stored Pipedrive credentials; required unless"
        f" {LOCAL_MODE_ENV}=true (then the public development key).",
    )
    old_credentials_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        default=(),
        validation_alias=OLD_CREDENTIALS_KEYS_ENV,
        description="Comma-separated keys still readable while a rotation runs (`python -m pipedrive_client"
        " re-encrypt` moves every credential to the current key; then drop them).",
    )
    local_mode: bool = Field(
        default=False,
        validation_alias=LOCAL_MODE_ENV,
        description="A developer's machine: the public development key is allowed (with a warning).",
    )
    budget_share: float = Field(default=0.5, gt=0, le=1, description="Share of the daily token budget.")
    oauth_client_id: str = ""
    oauth_client_secret: SecretStr = SecretStr("")
    oauth_redirect_uri: str = Field(
        default="",
        description="The app's registered callback URL; empty: the connector's own callback"
        " (CONNECTOR_PUBLIC_BASE_URL/v1/connection/oauth/callback).",
    )
    oauth_base_url: str = Field(
        default=LOCAL_SANDBOX_URL, description="Pipedrive's OAuth server (https://oauth.pipedrive.com live)."
    )

    @field_validator("allowed_test_urls", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(url.strip() for url in value.split(",") if url.strip())
        return value

    @field_validator("allowed_test_urls")
    @classmethod
    def _are_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            try:
                origin_of(url)
            except ValueError as failure:
                raise ValueError(f"{url!r} is not an origin such as {LOCAL_SANDBOX_URL}") from failure
        return value

    @field_validator("old_credentials_keys", mode="before")
    @classmethod
    def _comma_separated_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(key.strip() for key in value.split(",") if key.strip())
        return value

    @field_validator("credentials_key")
    @classmethod
    def _is_32_hex_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _check_hex_key(CREDENTIALS_KEY_ENV, value)
        return value

    @field_validator("old_credentials_keys")
    @classmethod
    def _are_32_hex_bytes(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        for key in value:
            _check_hex_key(OLD_CREDENTIALS_KEYS_ENV, key)
        return value

    @model_validator(mode="after")
    def _key_is_safe(self) -> PipedriveClientSettings:
        checked_secret_key(
            CREDENTIALS_KEY_ENV, self.credentials_key, LOCAL_DEV_CREDENTIALS_KEY, local_mode=self.local_mode
        )
        return self

    @property
    def current_credentials_key(self) -> SecretStr:
        """The key new credentials are encrypted with (the development key only in local mode)."""
        return checked_secret_key(
            CREDENTIALS_KEY_ENV, self.credentials_key, LOCAL_DEV_CREDENTIALS_KEY, local_mode=self.local_mode
        )

    @property
    def development_keys(self) -> list[str]:
        """The keys in use that are public (what the service warns about at start)."""
        dev = self.current_credentials_key.get_secret_value() == LOCAL_DEV_CREDENTIALS_KEY
        return [CREDENTIALS_KEY_ENV] if dev else []

    @property
    def api_domains(self) -> ApiDomainPolicy:
        """The allow-list of base URLs."""
        return ApiDomainPolicy(self.allowed_test_urls)

    @property
    def budget_policy(self) -> BudgetPolicy:
        """The budget share this integration spends."""
        return BudgetPolicy(daily_share=self.budget_share)

    @property
    def oauth_configured(self) -> bool:
        """Whether the marketplace app's client id and secret are set."""
        return bool(self.oauth_client_id and self.oauth_client_secret.get_secret_value())


def _check_hex_key(name: str, value: SecretStr) -> None:
    try:
        key = bytes.fromhex(value.get_secret_value())
    except ValueError as failure:
        raise ValueError(f"{name} must be 64 hex characters") from failure
    if len(key) != KEY_BYTES:
        raise ValueError(f"{name} must be {KEY_BYTES} bytes (64 hex characters)")
