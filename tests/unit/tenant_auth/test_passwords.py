"""Console passwords: an unknown email is checked against a hash that costs what a real check costs."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import VerifyMismatchError

from tenant_auth.passwords import _HASHER, hash_password, password_matches, unmatchable_hash


def test_the_unknown_accounts_hash_has_the_parameters_of_a_real_hash_and_matches_no_password() -> None:
    real = hash_password("a long enough password")
    unmatchable = unmatchable_hash(_HASHER)
    assert extract_parameters(unmatchable) == extract_parameters(real)
    assert unmatchable != unmatchable_hash(_HASHER)  # a random salt and digest each time
    # A full check that finds a mismatch (not a hash argon2 refuses to read before any work).
    with pytest.raises(VerifyMismatchError):
        _HASHER.verify(unmatchable, "a long enough password")
    assert password_matches("a long enough password", real)
    assert not password_matches("a long enough password", None)
    assert not password_matches("another password!", real)


def test_other_parameters_are_written_into_the_hash() -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, hash_len=16, salt_len=8)
    assert extract_parameters(unmatchable_hash(hasher)) == extract_parameters(hasher.hash("x"))
