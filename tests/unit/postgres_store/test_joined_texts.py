"""`joined_texts`: many texts as one parameter, split in SQL by the record separator, one row each."""

from __future__ import annotations

import orjson
import pytest

from postgres_store.json_rows import joined_texts


def test_json_texts_split_back_into_themselves_in_order() -> None:
    texts = [orjson.dumps(v).decode() for v in ({"a": "x\x1ey"}, ["\x1e"], "", {"ü": 'q"\n'})]

    assert joined_texts(texts).split("\x1e") == texts
    assert joined_texts([]) == ""


@pytest.mark.parametrize("texts", [["a", "b\x1ec"], ["a", ""], [""]])
def test_a_text_that_would_shift_the_rows_is_refused(texts: list[str]) -> None:
    with pytest.raises(ValueError, match="record separator or is empty"):
        joined_texts(texts)
