"""A recursive-descent parser from filter text to the syntax tree (grammar in the package docstring)."""

from decimal import Decimal

from sync_rules.filters.errors import FilterError
from sync_rules.filters.lexer import Token, TokenKind, tokenize
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
    Value,
)

_OPERATORS = {"=": Operator.EQ, "==": Operator.EQ, "!=": Operator.NE, "<>": Operator.NE, "<": Operator.LT}
_OPERATORS |= {"<=": Operator.LE, ">": Operator.GT, ">=": Operator.GE}
_LABEL_STOP_WORDS = {"and", "or", "contains"}
_EXPECTED_OPERATOR = "an operator (=, !=, <, <=, >, >=, CONTAINS)"
_EXPECTED_VALUE = "a value: quoted text, a number, today, last N days, next N days or current user"


MAX_NESTING = 50
"""The deepest a filter nests parentheses and NOTs: far beyond what a person writes, and well within
Python's recursion limit for this parser and the walks over its tree (a few hundred "(" were a
RecursionError, a 500, in the console's check as typed and the connector's API)."""

MAX_RELATIVE_DAYS = 36_500
"""The furthest `last N days` / `next N days` reaches: dates further out are not calendar dates we can
compute with (and no record has one)."""


def parse_filter(source: str) -> Expr:
    """Parse filter text into a syntax tree with unbound labels.

    Raises :class:`FilterError` naming the column of the first problem and what was expected there.
    """
    parser = _Parser(tokenize(source))
    if parser.peek().kind is TokenKind.END:
        raise FilterError(1, "the filter is empty; expected a comparison such as Value > 10000")
    expression = parser.parse_or()
    parser.expect_end()
    return expression


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._index = 0
        self._depth = 0

    def peek(self) -> Token:
        return self._tokens[self._index]

    def advance(self) -> Token:
        token = self._tokens[self._index]
        self._index += 1 if token.kind is not TokenKind.END else 0
        return token

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token.kind is TokenKind.WORD and token.text.casefold() in words

    def fail(self, expected: str) -> FilterError:
        token = self.peek()
        return FilterError(token.column, f"expected {expected}, found {token.describe()}")

    def expect_end(self) -> None:
        if self.peek().kind is TokenKind.RPAREN:
            raise self.fail('AND, OR or the end of the expression (this ")" has no matching "(")')
        if self.peek().kind is not TokenKind.END:
            raise self.fail("AND, OR or the end of the expression")

    def parse_or(self) -> Expr:
        items = [self.parse_and()]
        while self.at_word("or"):
            self.advance()
            items.append(self.parse_and())
        flat = [part for item in items for part in (item.items if isinstance(item, Or) else (item,))]
        return flat[0] if len(flat) == 1 else Or(tuple(flat))

    def parse_and(self) -> Expr:
        items = [self.parse_not()]
        while self.at_word("and"):
            self.advance()
            items.append(self.parse_not())
        flat = [part for item in items for part in (item.items if isinstance(item, And) else (item,))]
        return flat[0] if len(flat) == 1 else And(tuple(flat))

    def parse_not(self) -> Expr:
        if not self.at_word("not") and self.peek().kind is not TokenKind.LPAREN:
            return self.parse_comparison()
        if self._depth >= MAX_NESTING:
            token = self.peek()
            raise FilterError(token.column, f"at most {MAX_NESTING} parentheses and NOTs inside each other")
        self._depth += 1
        try:
            return self.parse_nested()
        finally:
            self._depth -= 1

    def parse_nested(self) -> Expr:
        if self.at_word("not"):
            self.advance()
            return Not(self.parse_not())
        opening = self.advance()
        inner = self.parse_or()
        if self.peek().kind is not TokenKind.RPAREN:
            raise self.fail(f'")" to close the "(" at column {opening.column}, AND or OR')
        self.advance()
        return inner

    def parse_comparison(self) -> Comparison:
        start = self.peek()
        words: list[str] = []
        while self.peek().kind in (TokenKind.WORD, TokenKind.NUMBER) and not self.at_word(*_LABEL_STOP_WORDS):
            words.append(self.advance().text)
        if not words:
            raise self.fail('a field label (such as Value or Add Time), NOT or "("')
        label = " ".join(words)
        operator = self.parse_operator(label)
        value_column = self.peek().column
        return Comparison(label, operator, self.parse_value(), start.column, value_column)

    def parse_operator(self, label: str) -> Operator:
        token = self.peek()
        if token.kind is TokenKind.OPERATOR:
            self.advance()
            return _OPERATORS[token.text]
        if self.at_word("contains"):
            self.advance()
            return Operator.CONTAINS
        raise self.fail(f'{_EXPECTED_OPERATOR} after the field label "{label}"')

    def parse_value(self) -> Value:
        token = self.peek()
        if token.kind is TokenKind.TEXT:
            self.advance()
            return Text(token.text)
        if token.kind is TokenKind.NUMBER:
            self.advance()
            return Number(Decimal(token.text))
        if self.at_word("today"):
            self.advance()
            return RelativeDate(DateAnchor.TODAY)
        if self.at_word("last", "next"):
            return self.parse_relative_date()
        if self.at_word("current"):
            self.advance()
            if not self.at_word("user"):
                raise self.fail('"user" after "current"')
            self.advance()
            return CurrentUser()
        raise self.fail(_EXPECTED_VALUE)

    def parse_relative_date(self) -> RelativeDate:
        anchor = DateAnchor(self.advance().text.casefold())
        count = self.peek()
        if count.kind is not TokenKind.NUMBER or not count.text.isdigit():
            raise self.fail(f'a whole number of days after "{anchor.value}", as in {anchor.value} 30 days')
        if int(count.text) > MAX_RELATIVE_DAYS:
            raise FilterError(
                count.column, f"at most {MAX_RELATIVE_DAYS} days (100 years), found {count.text}"
            )
        self.advance()
        if not self.at_word("days", "day"):
            raise self.fail(f'"days" after "{anchor.value} {count.text}"')
        self.advance()
        return RelativeDate(anchor, int(count.text))
