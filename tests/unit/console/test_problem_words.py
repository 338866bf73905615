"""What a service refused in a form reads in the console's words: pydantic's problems, made by real
pydantic models through the services' own `path: problem` lines (so a pydantic upgrade that rewords one
fails here), each become a console sentence; a service's own sentence is kept."""

from __future__ import annotations

import enum
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator

from console.problem_words import plain_problem, plain_problem_line, plain_problems, split_problem
from console.settings_pages import _field_errors
from service_runtime.http_errors import validation_problems


class Frequency(enum.StrEnum):
    MANUAL = "manual"
    HOURLY = "1h"


class Form(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: int = Field(default=10, ge=1, le=100)
    positive: int = Field(default=1, gt=0, lt=10)
    ratio: float = 0.5
    label: str = Field(default="x", min_length=1, max_length=20)
    code: str = Field(default="abc", min_length=3)
    tags: list[str] = Field(default_factory=list, max_length=2)
    frequency: Frequency = Frequency.MANUAL
    mode: Literal["fill", "overwrite"] = "fill"
    enabled: bool = False
    url: HttpUrl | None = None
    required: str
    domain: str = "a.io"

    @field_validator("domain")
    @classmethod
    def _has_a_dot(cls, domain: str) -> str:
        if "." not in domain:
            raise ValueError("a domain has a dot, such as example.com")
        return domain


def _problem(**given: object) -> str:
    """The one `path: problem` line a service answers for `given` (with the required field filled)."""
    try:
        Form.model_validate({"required": "yes", **given})
    except ValidationError as failure:
        (line,) = validation_problems(failure)
        return line
    raise AssertionError(f"{given} was accepted")


@pytest.mark.parametrize(
    ("given", "path", "sentence"),
    [
        ({"threshold": 150}, "threshold", "Enter a number no greater than 100."),
        ({"threshold": 0}, "threshold", "Enter a number of at least 1."),
        ({"positive": 0}, "positive", "Enter a number above 0."),
        ({"positive": 10}, "positive", "Enter a number below 10."),
        ({"threshold": "lots"}, "threshold", "Enter a whole number."),
        ({"threshold": 2.5}, "threshold", "Enter a whole number."),
        ({"threshold": "9" * 5000}, "threshold", "Enter a smaller whole number."),
        ({"ratio": "half"}, "ratio", "Enter a number."),
        ({"label": ""}, "label", "Fill this in."),
        ({"code": "ab"}, "code", "Use at least 3 characters."),
        ({"label": "x" * 21}, "label", "Use at most 20 characters."),
        ({"tags": ["a", "b", "c"]}, "tags", "Keep at most 2 (there are 3)."),
        ({"frequency": "weekly"}, "frequency", "Choose one of the options offered."),
        ({"mode": "sometimes"}, "mode", "Choose one of the options offered."),
        ({"enabled": "perhaps"}, "enabled", "Choose on or off."),
        ({"url": "not a url"}, "url", "Enter a full web address, such as https://example.com/."),
        ({"surprise": 1}, "surprise", "This field is not accepted here."),
        ({"domain": "localhost"}, "domain", "A domain has a dot, such as example.com."),
    ],
)
def test_pydantic_problems_read_as_console_sentences(
    given: dict[str, object], path: str, sentence: str
) -> None:
    assert split_problem(_problem(**given)) == (path, sentence)


def test_a_missing_value_asks_to_fill_it_in() -> None:
    try:
        Form.model_validate({})
    except ValidationError as failure:
        problems = [split_problem(line) for line in validation_problems(failure)]
        assert problems == [("required", "Fill this in.")]


def test_a_services_own_sentence_is_kept_as_a_sentence() -> None:
    assert plain_problem("must be https") == "Must be https."
    assert plain_problem("ABM field(s) mapped twice: name") == "ABM field(s) mapped twice: name."
    assert plain_problem("Nothing to push.") == "Nothing to push."
    assert split_problem("The body is not valid JSON.") == (None, "The body is not valid JSON.")


def test_a_line_names_its_field_by_the_forms_label() -> None:
    line = "failure_threshold: Input should be greater than or equal to 1"
    assert plain_problem_line(line, {"failure_threshold": "Alert when this many records fail"}) == (
        "Alert when this many records fail: Enter a number of at least 1."
    )
    assert plain_problem_line(line) == "failure_threshold: Enter a number of at least 1."
    assert plain_problems([line, "webhook_url: must be https"], "refused") == (
        "failure_threshold: Enter a number of at least 1.; webhook_url: Must be https."
    )
    assert plain_problems([], "The body is not valid JSON.") == "The body is not valid JSON."


def test_the_settings_page_shows_each_problem_in_the_consoles_words_beside_its_field() -> None:
    problems = [
        "auto_push.score_threshold: Input should be less than or equal to 100",
        "objects.organization.fields.1.to_abm: Input should be 'dont_sync', 'fill' or 'overwrite'",
        "objects.organization.directions.create_in_abm: Input should be a valid boolean",
        "Settings are being changed by someone else.",
    ]
    assert _field_errors(problems, {1: 7}) == {
        "auto_push.score_threshold": "Enter a number no greater than 100.",
        "to_abm_7": "Choose one of the options offered.",
        "directions": "Choose on or off.",
        "form": "Settings are being changed by someone else.",
    }
