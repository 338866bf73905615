import orjson

from schemas.nul_characters import may_hold_nul, without_nul_characters


def test_nul_characters_are_removed_from_every_string_and_key_and_nothing_else_changes() -> None:
    document = {
        "name": "Acme\u0000 Ltd\u0000",
        "custom_fields": {"a\u0000b": ["x\u0000", 1, None, 2.5, True]},
        "address": {"value": "1 Main St"},
    }

    assert without_nul_characters(document) == {
        "name": "Acme Ltd",
        "custom_fields": {"ab": ["x", 1, None, 2.5, True]},
        "address": {"value": "1 Main St"},
    }


def test_json_bytes_may_hold_a_nul_only_with_its_escape() -> None:
    assert may_hold_nul(orjson.dumps({"name": "a\u0000b"}))
    assert not may_hold_nul(orjson.dumps({"name": 'a "quoted" b\n'}))
    assert not may_hold_nul(orjson.dumps({"name": "plain", "count": 10000}))
