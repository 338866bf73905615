"""The console's words for what a service refused in a form. The services answer a refused input with
`path: problem` lines, the problem in pydantic's words ("Input should be less than or equal to 100"); their
JSON API keeps them so (clients branch on `error` and read `problems`). A page shows a person the
console's sentence for the common kinds instead (a range, a missing value, not a number, too long, not one
of the choices, ...), and any other problem (a service's own sentence: a mapping that cannot work, a URL
that must be https) as the service wrote it, with a capital letter.

Every such sentence comes from here: the settings page beside its fields, the alert settings in their
list, the refused-input page.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_LINE = re.compile(r"^(?P<path>[\w.]+): (?P<text>.*)$", re.DOTALL)

_Words = Callable[["re.Match[str]"], str]


def _fixed(sentence: str) -> _Words:
    return lambda _found: sentence


def _plural(count: str, one: str, many: str) -> str:
    return f"{count} {one if count == '1' else many}"


# pydantic's message templates (pydantic_core's list_all_errors), matched whole, most specific first.
_PYDANTIC: tuple[tuple[re.Pattern[str], _Words], ...] = tuple(
    (re.compile(pattern, re.DOTALL), words)
    for pattern, words in (
        (r"Field required", _fixed("Fill this in.")),
        (
            r"Input should be less than or equal to (?P<n>\S+)",
            lambda m: f"Enter a number no greater than {m['n']}.",
        ),
        (
            r"Input should be greater than or equal to (?P<n>\S+)",
            lambda m: f"Enter a number of at least {m['n']}.",
        ),
        (r"Input should be less than (?P<n>\S+)", lambda m: f"Enter a number below {m['n']}."),
        (r"Input should be greater than (?P<n>\S+)", lambda m: f"Enter a number above {m['n']}."),
        (r"Input should be a multiple of (?P<n>\S+)", lambda m: f"Enter a multiple of {m['n']}."),
        (r"Input should be a valid integer.*", _fixed("Enter a whole number.")),
        (r"Unable to parse input string as an integer.*", _fixed("Enter a smaller whole number.")),
        (r"Input should be a valid number.*|Input should be a finite number", _fixed("Enter a number.")),
        (r"String should have at least 1 character", _fixed("Fill this in.")),
        (
            r"String should have at least (?P<n>\d+) characters?",
            lambda m: f"Use at least {_plural(m['n'], 'character', 'characters')}.",
        ),
        (
            r"(String|URL) should have at most (?P<n>\d+) characters?",
            lambda m: f"Use at most {_plural(m['n'], 'character', 'characters')}.",
        ),
        (
            r"\w+ should have at most (?P<n>\d+) items? after validation, not (?P<actual>\d+)",
            lambda m: f"Keep at most {m['n']} (there are {m['actual']}).",
        ),
        (
            r"\w+ should have at least (?P<n>\d+) items? after validation, not \d+",
            lambda m: f"Add at least {m['n']}.",
        ),
        (r"Input should be a valid boolean.*", _fixed("Choose on or off.")),
        (r"Input should be a valid string", _fixed("Enter text.")),
        (
            r"Input should be a valid URL.*|URL input should be .*|URL scheme should be .*",
            _fixed("Enter a full web address, such as https://example.com/."),
        ),
        (r"Input should be a valid date\b.*", _fixed("Enter a date as YYYY-MM-DD.")),
        (r"Input should be a valid datetime.*", _fixed("Enter a date and time.")),
        (r"String should match pattern .*", _fixed("Use only the characters this field allows.")),
        (r"Input should be '.*", _fixed("Choose one of the options offered.")),  # an enum or a literal
        (r"Extra inputs are not permitted", _fixed("This field is not accepted here.")),
        (r"(Value error|Assertion failed), (?P<text>.*)", lambda m: _sentence(m["text"])),
    )
)


def _sentence(text: str) -> str:
    """A service's own words as a sentence: a capital first letter, and a full stop if it has none."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else f"{text}."


def plain_problem(text: str) -> str:
    """The console's sentence for one problem a service named (without its `path: `)."""
    for pattern, words in _PYDANTIC:
        found = pattern.fullmatch(text)
        if found is not None:
            return words(found)
    return _sentence(text)


def split_problem(line: str) -> tuple[str | None, str]:
    """A `path: problem` line as (path, the console's sentence); (None, sentence) without a path."""
    found = _LINE.match(line)
    if found is None:
        return None, plain_problem(line)
    return found["path"], plain_problem(found["text"])


def plain_problem_line(line: str, labels: dict[str, str] | None = None) -> str:
    """A `path: problem` line for a person: the field's label (`labels`; else the path) and the console's
    sentence."""
    path, sentence = split_problem(line)
    if path is None:
        return sentence
    return f"{(labels or {}).get(path, path)}: {sentence}"


def plain_problems(lines: list[str], otherwise: str, labels: dict[str, str] | None = None) -> str:
    """A service's problem lines as one text for a person (`otherwise`, its message, when it named none)."""
    return "; ".join(plain_problem_line(line, labels) for line in lines) or otherwise
