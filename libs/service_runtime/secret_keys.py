"""Secret keys that are safe by default: a service refuses to start with no key, or with the public
development key its code carries, unless it is explicitly in local mode (`PSYNC_LOCAL_MODE=true`), where
it uses the development key and says so with a warning at start."""

from __future__ import annotations

import structlog
from pydantic import SecretStr

LOCAL_MODE_ENV = "PSYNC_LOCAL_MODE"
"""Set to true only on a developer's machine: allows the public development keys."""

_log = structlog.get_logger(__name__)


def checked_secret_key(
    name: str, value: SecretStr | None, development_key: str, *, local_mode: bool
) -> SecretStr:
    """The key to use: `value` when it is a key of one's own; the development key only in local mode.

    Raises ValueError naming the variable and what to do otherwise."""
    if value is not None and value.get_secret_value() != development_key:
        return value
    if not local_mode:
        problem = "is not set" if value is None else "is the public development key"
        raise ValueError(
            f"{name} {problem}: set it to 32 random bytes in hex (openssl rand -hex 32; `make up`"
            f" generates one into .state/), or set {LOCAL_MODE_ENV}=true on a developer's machine only"
        )
    return SecretStr(development_key)


def warn_of_development_keys(names: list[str]) -> None:
    """Log, at start, that the service runs in local mode on public development keys."""
    if names:
        _log.warning(
            "insecure_development_keys",
            keys=names,
            message=f"{LOCAL_MODE_ENV} is on: these keys are public; never run this outside a laptop",
        )
