"""AES-GCM encryption of credentials at rest, bound to the tenant by associated data.

A ciphertext is `nonce (12 bytes) || AES-GCM(ciphertext + tag)`, with the tenant id as associated data:
a row copied to another tenant does not decrypt.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretBytes, SecretStr

from pipedrive_client.errors import CredentialsUnreadable

NONCE_BYTES = 12
KEY_BYTES = 32

CREDENTIALS_KEY_ENV = "PSYNC_CREDENTIALS_KEY"
"""The one environment variable every service that reads stored credentials takes its key from."""

LOCAL_DEV_CREDENTIALS_KEY = "6c6f63616c2d6465762d6f6e6c792d6e6f742d612d7365637265742d6b657921"
"""FOR LOCAL DEVELOPMENT ONLY: a fixed, public key so `make up` works without set-up. Every deployed
environment sets PSYNC_CREDENTIALS_KEY to its own 32 random bytes (64 hex characters)."""


class CredentialCipher:
    """Encrypts and decrypts credential blobs with one 256-bit key."""

    def __init__(self, key: bytes | SecretBytes | SecretStr) -> None:
        raw = _key_bytes(key)
        if len(raw) != KEY_BYTES:
            raise ValueError("the credentials key must be 32 bytes (AES-256)")
        self._aead = AESGCM(raw)

    def encrypt(self, tenant_id: str, plaintext: bytes) -> bytes:
        """Encrypt `plaintext` for `tenant_id` under a fresh random nonce."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, tenant_id.encode())

    def decrypt(self, tenant_id: str, blob: bytes) -> bytes:
        """Decrypt a blob written for `tenant_id`; `CredentialsUnreadable` for another tenant or tampering."""
        if len(blob) <= NONCE_BYTES:
            raise CredentialsUnreadable()
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], tenant_id.encode())
        except InvalidTag as failure:
            raise CredentialsUnreadable() from failure


def _key_bytes(key: bytes | SecretBytes | SecretStr) -> bytes:
    if isinstance(key, SecretBytes):
        return key.get_secret_value()
    if isinstance(key, SecretStr):
        # A settings string holds the key as hex (64 characters) so it survives environment variables.
        return bytes.fromhex(key.get_secret_value())
    return key
