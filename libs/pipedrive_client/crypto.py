"""AES-GCM encryption of credentials at rest, bound to the tenant by associated data, under rotatable keys.

A ciphertext is `nonce (12 bytes) || AES-GCM(ciphertext + tag)`, with the tenant id as associated data:
a row copied to another tenant does not decrypt. Every key has an id (a fingerprint of the key, never the
key), stored next to each ciphertext, so that keys can be rotated: new writes use the current key, rows
under an old key stay readable while that key is configured as old, and `python -m pipedrive_client
re-encrypt` moves every row to the current key, after which the old key can be dropped.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretBytes, SecretStr

from pipedrive_client.errors import CredentialsUnreadable

NONCE_BYTES = 12
KEY_BYTES = 32

CREDENTIALS_KEY_ENV = "PSYNC_CREDENTIALS_KEY"
"""The one environment variable every service that reads stored credentials takes its key from."""
OLD_CREDENTIALS_KEYS_ENV = "PSYNC_CREDENTIALS_OLD_KEYS"
"""Keys still readable during a rotation (comma-separated), never used to encrypt."""

LOCAL_DEV_CREDENTIALS_KEY = "6c6f63616c2d6465762d6f6e6c792d6e6f742d612d7365637265742d6b657921"
"""FOR LOCAL DEVELOPMENT ONLY: a fixed, public key, accepted only in local mode (PSYNC_LOCAL_MODE=true).
Every other environment sets PSYNC_CREDENTIALS_KEY to its own 32 random bytes (64 hex characters); `make
up` generates one into .state/."""

Key = bytes | SecretBytes | SecretStr


def key_id_of(key: Key) -> str:
    """A key's id: 16 hex characters of a SHA-256 fingerprint (tells keys apart, reveals nothing)."""
    return hashlib.sha256(b"psync-credentials-key\x00" + _key_bytes(key)).hexdigest()[:16]


class CredentialCipher:
    """Encrypts with the current 256-bit key; decrypts with it or any old key still configured."""

    def __init__(self, key: Key, old_keys: Iterable[Key] = ()) -> None:
        self.key_id = key_id_of(key)
        self._keys = {key_id_of(k): _aead(k) for k in old_keys}
        self._keys[self.key_id] = _aead(key)

    def encrypt(self, tenant_id: str, plaintext: bytes) -> bytes:
        """Encrypt `plaintext` for `tenant_id` under the current key (`key_id`) and a fresh random nonce."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._keys[self.key_id].encrypt(nonce, plaintext, tenant_id.encode())

    def decrypt(self, tenant_id: str, blob: bytes, key_id: str | None = None) -> bytes:
        """Decrypt a blob written for `tenant_id` under the key `key_id` (None: written before keys had
        ids, so every configured key is tried); `CredentialsUnreadable` for another tenant, tampering, or
        a key that is not configured."""
        if len(blob) <= NONCE_BYTES:
            raise CredentialsUnreadable()
        if key_id is None:
            candidates = list(self._keys.values())
        elif key_id in self._keys:
            candidates = [self._keys[key_id]]
        else:
            raise CredentialsUnreadable(
                f"{CredentialsUnreadable.message}: written under key {key_id}, which is not configured"
            )
        for aead in candidates:
            try:
                return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], tenant_id.encode())
            except InvalidTag:
                continue
        raise CredentialsUnreadable()


def _aead(key: Key) -> AESGCM:
    raw = _key_bytes(key)
    if len(raw) != KEY_BYTES:
        raise ValueError("the credentials key must be 32 bytes (AES-256)")
    return AESGCM(raw)


def _key_bytes(key: Key) -> bytes:
    if isinstance(key, SecretBytes):
        return key.get_secret_value()
    if isinstance(key, SecretStr):
        # A settings string holds the key as hex (64 characters) so it survives environment variables.
        return bytes.fromhex(key.get_secret_value())
    return key
