"""Console passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106 low-memory profile) and the
random passwords the admin command hands out."""

from __future__ import annotations

import base64
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import ARGON2_VERSION

_HASHER = PasswordHasher()
MIN_LENGTH = 12


def _b64(raw: bytes) -> str:
    """Base64 without padding, as argon2's encoded hashes write salts and digests."""
    return base64.b64encode(raw).decode().rstrip("=")


def unmatchable_hash(hasher: PasswordHasher) -> str:
    """An encoded hash with `hasher`'s parameters, a random salt and a random digest: no password matches
    it, and verifying one against it costs what verifying against a real hash of `hasher` costs (the
    parameters say how much work a check is). Built without hashing: hashing a random password (what the
    module did) cost every process importing it, the console's, 0.3 s of CPU before it could serve."""
    return (
        f"$argon2{hasher.type.name.lower()}$v={ARGON2_VERSION}"
        f"$m={hasher.memory_cost},t={hasher.time_cost},p={hasher.parallelism}"
        f"${_b64(secrets.token_bytes(hasher.salt_len))}${_b64(secrets.token_bytes(hasher.hash_len))}"
    )


# Verified when the account does not exist, so a wrong email costs the same time as a wrong password.
_UNKNOWN_ACCOUNT_HASH = unmatchable_hash(_HASHER)


class WeakPassword(ValueError):
    """A password the console does not accept."""


def hash_password(password: str) -> str:
    """The stored form of a password; `WeakPassword` when it is shorter than 12 characters."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    return _HASHER.hash(password)


def password_matches(password: str, stored_hash: str | None) -> bool:
    """Whether `password` is the one `stored_hash` was made from (None: no such account, same cost)."""
    try:
        return _HASHER.verify(stored_hash or _UNKNOWN_ACCOUNT_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    """A random password to hand to a person once (about 120 bits)."""
    return secrets.token_urlsafe(15)
