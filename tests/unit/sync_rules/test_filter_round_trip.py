from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from sync_rules.filters import parse_filter, print_filter
from sync_rules.filters.syntax import (
    And,
    Comparison,
    CurrentUser,
    DateAnchor,
    Expr,
    Not,
    Number,
    Operator,
    Or,
    RelativeDate,
    Text,
)

_KEYWORDS = {"and", "or", "not", "contains"}
_words = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,7}", fullmatch=True).filter(
    lambda w: w.lower() not in _KEYWORDS
)
_labels = st.lists(_words, min_size=1, max_size=3).map(" ".join)
_values = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8).map(Text),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6).map(
        Number
    ),
    st.just(RelativeDate(DateAnchor.TODAY)),
    st.builds(RelativeDate, st.sampled_from([DateAnchor.LAST, DateAnchor.NEXT]), st.integers(0, 400)),
    st.just(CurrentUser()),
)
_comparisons = st.builds(Comparison, _labels, st.sampled_from(list(Operator)), _values)


def _flat(kind: type[And] | type[Or], items: list[Expr]) -> Expr:
    parts = [part for item in items for part in (item.items if isinstance(item, kind) else (item,))]
    return kind(tuple(parts))


_expressions = st.recursive(
    _comparisons,
    lambda children: st.one_of(
        children.map(Not),
        st.lists(children, min_size=2, max_size=3).map(lambda items: _flat(And, items)),
        st.lists(children, min_size=2, max_size=3).map(lambda items: _flat(Or, items)),
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(expression=_expressions)
def test_parse_of_print_gives_back_the_tree(expression: Expr) -> None:
    assert parse_filter(print_filter(expression)) == expression


def test_printing_is_canonical() -> None:
    source = 'not (value>1 or stage="a")  and  OWNER = current user'

    assert print_filter(parse_filter(source)) == 'NOT (value > 1 OR stage = "a") AND OWNER = current user'


def test_number_prints_without_exponent() -> None:
    assert print_filter(Comparison("Value", Operator.GT, Number(Decimal("1E+4")))) == "Value > 10000"
