"""The console's settings, from `CONSOLE_*` (and the shared `DATABASE_URL`)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from service_runtime.secret_keys import checked_secret_key
from service_runtime.settings import ServiceSettings

SERVICE_KEYS_KEY_ENV = "CONSOLE_SERVICE_KEYS_KEY"
LOCAL_DEV_SERVICE_KEYS_KEY = "636f6e736f6c652d6c6f63616c2d6465762d6f6e6c792d6e6f742d7365637265"
"""FOR LOCAL DEVELOPMENT ONLY: a fixed, public key, accepted only in local mode (PSYNC_LOCAL_MODE=true).
Every other console sets CONSOLE_SERVICE_KEYS_KEY to its own 32 random bytes (64 hex characters); `make
up` generates one into .state/."""


class ConsoleSettings(ServiceSettings):
    """Where the console listens, where the services are, and how it keeps sessions."""

    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore", frozen=True)

    http_port: int = 8080
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Where browsers reach the console (the end of an OAuth connect comes back here).",
    )
    db_schema: str = "console"
    connector_url: str = "http://127.0.0.1:8081"
    mapper_url: str = "http://127.0.0.1:8082"
    pusher_url: str = "http://127.0.0.1:8083"
    auditlog_url: str = "http://127.0.0.1:8084"
    service_timeout_s: float = Field(default=15.0, gt=0, description="How long a call to a service may take.")
    service_keys_key: SecretStr | None = Field(
        default=None,
        description="AES-256 key (64 hex) of the tenants' console API keys stored in the console's schema;"
        " required unless PSYNC_LOCAL_MODE=true (then the public development key).",
    )
    session_idle_minutes: float = Field(default=30.0, gt=0, description="A session unused this long ends.")
    session_max_hours: float = Field(
        default=12.0, gt=0, description="A session ends this long after sign-in."
    )
    cookie_secure: bool = Field(
        default=True,
        description="Mark the session cookie Secure (browsers still keep it for http://127.0.0.1).",
    )
    failed_sign_ins_per_account: int = Field(default=5, ge=1)
    failed_sign_ins_per_address: int = Field(default=20, ge=1)
    failed_sign_in_window_minutes: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _key_is_safe(self) -> ConsoleSettings:
        self.current_service_keys_key  # noqa: B018 (raises when neither a key of one's own nor local mode)
        return self

    @property
    def current_service_keys_key(self) -> SecretStr:
        """The key the console's stored API keys are sealed with (the development key only in local mode)."""
        return checked_secret_key(
            SERVICE_KEYS_KEY_ENV,
            self.service_keys_key,
            LOCAL_DEV_SERVICE_KEYS_KEY,
            local_mode=self.local_mode,
        )

    @property
    def development_keys(self) -> list[str]:
        """The keys in use that are public (what the console warns about at start)."""
        public = self.current_service_keys_key.get_secret_value() == LOCAL_DEV_SERVICE_KEYS_KEY
        return [SERVICE_KEYS_KEY_ENV] if public else []

    @field_validator("service_keys_key")
    @classmethod
    def _is_32_hex_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        try:
            key = bytes.fromhex(value.get_secret_value())
        except ValueError as failure:
            raise ValueError("CONSOLE_SERVICE_KEYS_KEY must be 64 hex characters") from failure
        if len(key) != 32:
            raise ValueError("CONSOLE_SERVICE_KEYS_KEY must be 32 bytes (64 hex characters)")
        return value

    def service_urls(self) -> dict[str, str]:
        """The base URL of every service the console talks to, by name."""
        return {
            "connector": self.connector_url,
            "mapper": self.mapper_url,
            "pusher": self.pusher_url,
            "auditlog": self.auditlog_url,
        }
