"""Record keys: the `tenant:object:match_key` format of the contract."""

import pytest

from schemas.events.common import SyncObject
from schemas.keys import InvalidRecordKeyError, RecordKey, parse_record_key, record_key


def test_record_key_has_the_contract_format() -> None:
    assert record_key("t1", SyncObject.PERSON, "jane@acme.com") == "t1:person:jane@acme.com"


def test_record_key_parses_back_into_its_parts() -> None:
    assert parse_record_key("t1:organization:acme.com") == RecordKey(
        "t1", SyncObject.ORGANIZATION, "acme.com"
    )


@pytest.mark.parametrize("key", ["t1:organization", ":person:a@b.io", "t1:account:acme.com", "t1:deal:"])
def test_malformed_record_key_is_rejected(key: str) -> None:
    with pytest.raises(InvalidRecordKeyError):
        parse_record_key(key)


def test_tenant_with_a_colon_is_rejected() -> None:
    with pytest.raises(InvalidRecordKeyError, match="must not contain"):
        record_key("a:b", SyncObject.DEAL, "1")


@pytest.mark.parametrize("obj", list(SyncObject))
def test_record_key_is_its_parts_written_out(obj: SyncObject) -> None:
    assert record_key("t1", obj, "a:b.com") == str(RecordKey("t1", obj, "a:b.com"))
