"""Console passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106 low-memory profile) and the
random passwords the admin command hands out."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
# Verified when the account does not exist, so a wrong email costs the same time as a wrong password.
_UNKNOWN_ACCOUNT_HASH = _HASHER.hash(secrets.token_urlsafe(16))
MIN_LENGTH = 12


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
