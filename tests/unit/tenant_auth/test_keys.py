"""API keys: minted at random, stored as hashes, compared in constant time, malformed ones refused."""

import pytest

from tenant_auth.keys import MalformedApiKey, hash_secret, mint_api_key, secret_matches, split_api_key


def test_a_minted_key_splits_into_its_id_and_a_secret_matching_the_stored_hash() -> None:
    key = mint_api_key()

    key_id, secret = split_api_key(key.full_key)

    assert key_id == key.key_id
    assert secret_matches(secret, key.secret_sha256)
    assert secret not in key.secret_sha256.hex()


def test_two_minted_keys_differ() -> None:
    assert mint_api_key().full_key != mint_api_key().full_key


def test_a_wrong_secret_does_not_match() -> None:
    key = mint_api_key()
    assert not secret_matches("x" * 43, key.secret_sha256)
    assert hash_secret("a") != hash_secret("b")


@pytest.mark.parametrize(
    "presented", ["", "psk_short_secret", "Bearer psk_x", "psk_" + "a" * 12 + "_" + "!" * 43]
)
def test_malformed_keys_are_refused(presented: str) -> None:
    with pytest.raises(MalformedApiKey):
        split_api_key(presented)
