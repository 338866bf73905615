"""Tokens of the filter language, each with the column where it starts."""

import re
from dataclasses import dataclass
from enum import StrEnum

from sync_rules.filters.errors import FilterError


class TokenKind(StrEnum):
    """What a token is."""

    LPAREN = "("
    RPAREN = ")"
    OPERATOR = "operator"
    TEXT = "quoted text"
    NUMBER = "number"
    WORD = "word"
    END = "end of expression"


@dataclass(frozen=True)
class Token:
    """One token: its kind, its text (unescaped for quoted text) and its 1-based column."""

    kind: TokenKind
    text: str
    column: int

    def describe(self) -> str:
        """Name the token for an error message."""
        return "the end of the expression" if self.kind is TokenKind.END else f'"{self.text}"'


_PATTERNS = [
    (TokenKind.OPERATOR, re.compile(r"!=|<>|<=|>=|==|=|<|>")),
    (TokenKind.NUMBER, re.compile(r"-?\d+(\.\d+)?(?![^\s()\"=!<>])")),
    (TokenKind.WORD, re.compile(r"[^\s()\"=!<>]+")),
]
_SPACE = re.compile(r"\s+")
_ESCAPE = re.compile(r"\\(.)")


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens ending with an END token; raise FilterError on a stray character."""
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        if space := _SPACE.match(source, position):
            position = space.end()
            continue
        token, position = _next_token(source, position)
        tokens.append(token)
    tokens.append(Token(TokenKind.END, "", len(source) + 1))
    return tokens


def _next_token(source: str, position: int) -> tuple[Token, int]:
    column = position + 1
    character = source[position]
    if character in "()":
        kind = TokenKind.LPAREN if character == "(" else TokenKind.RPAREN
        return Token(kind, character, column), position + 1
    if character == '"':
        return _quoted_text(source, position)
    for kind, pattern in _PATTERNS:
        if found := pattern.match(source, position):
            return Token(kind, found.group(), column), found.end()
    raise FilterError(column, f'unexpected character "{character}"; expected an operator such as != or >=')


def _quoted_text(source: str, position: int) -> tuple[Token, int]:
    end = position + 1
    while end < len(source) and source[end] != '"':
        end += 2 if source[end] == "\\" else 1
    if end >= len(source):
        raise FilterError(position + 1, 'unterminated quoted text; expected a closing "')
    text = _ESCAPE.sub(r"\1", source[position + 1 : end])
    return Token(TokenKind.TEXT, text, position + 1), end + 1
