"""API keys: `psk_<key id>_<secret>`. The key id finds the row; the secret is compared by hash.

Secrets are 256 random bits, so a plain SHA-256 is the right hash (no password stretching needed), and
comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_KEY_FORMAT = re.compile(r"^psk_(?P<key_id>[A-Za-z0-9]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
_KEY_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class MalformedApiKey(ValueError):
    """The presented credential is not an API key of ours."""


@dataclass(frozen=True)
class NewApiKey:
    """A freshly minted key: the full key is shown once; only `secret_sha256` is stored."""

    key_id: str
    full_key: str
    secret_sha256: bytes


def mint_api_key() -> NewApiKey:
    """A new random API key."""
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(12))
    secret = secrets.token_urlsafe(32)
    return NewApiKey(key_id, f"psk_{key_id}_{secret}", hash_secret(secret))


def hash_secret(secret: str) -> bytes:
    """The stored form of a key's secret."""
    return hashlib.sha256(secret.encode()).digest()


def split_api_key(presented: str) -> tuple[str, str]:
    """(key id, secret) of a presented key; MalformedApiKey when it has not our format."""
    match = _KEY_FORMAT.match(presented.strip())
    if match is None:
        raise MalformedApiKey("not an API key of this service")
    return match["key_id"], match["secret"]


def secret_matches(secret: str, stored_sha256: bytes) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_sha256)
