"""A service process whose standard error is not a terminal starts without rich (structlog imports it only
for its console renderer's tracebacks), and its log lines are the same as with rich."""

from __future__ import annotations

import subprocess
import sys

import orjson

_LOG_AN_EXCEPTION = """
import sys
from service_runtime.logs import configure_logging
import structlog
configure_logging("svc", json=sys.argv[1] == "json")
try:
    1 / 0
except ZeroDivisionError:
    structlog.get_logger("t").exception("failed", tenant_id="t1")
print("rich" in sys.modules and sys.modules["rich"] is not None, structlog.dev.rich is not None)
"""


def _run(json: bool, *, without_rich: bool) -> tuple[str, str]:
    """(stdout, stderr) of a process that logs an exception; stderr is a pipe, not a terminal."""
    # One line either way, so that the tracebacks' line numbers are the same.
    prelude = "import service_runtime.without_rich\n" if without_rich else "import service_runtime\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + _LOG_AN_EXCEPTION, "json" if json else "console"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout, done.stderr


def _without_timestamp(line: str) -> dict[str, object]:
    entry = orjson.loads(line)
    del entry["timestamp"]
    return dict(entry)


def test_off_a_terminal_rich_is_left_out_and_json_lines_are_the_same_as_with_it() -> None:
    with_rich_out, with_rich_err = _run(True, without_rich=False)
    without_out, without_err = _run(True, without_rich=True)
    assert with_rich_out.split() == ["True", "True"]  # the development environment has rich
    assert without_out.split() == ["False", "False"]
    [with_rich_line] = with_rich_err.splitlines()
    [without_line] = without_err.splitlines()
    assert _without_timestamp(without_line) == _without_timestamp(with_rich_line)
    assert "ZeroDivisionError: division by zero" in str(orjson.loads(without_line)["exception"])


def test_console_rendering_without_rich_still_shows_the_traceback() -> None:
    out, err = _run(False, without_rich=True)
    assert out.split() == ["False", "False"]
    assert "failed" in err and "tenant_id" in err and "t1" in err
    assert "Traceback (most recent call last)" in err
    assert "ZeroDivisionError: division by zero" in err


def test_on_a_terminal_nothing_is_left_out() -> None:
    code = (
        "import sys\n"
        "from service_runtime.without_rich import leave_rich_out\n"
        "sys.modules.pop('rich', None)\n"
        "leave_rich_out(True)\n"
        "import rich\n"
        "print(rich is not None)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True"]
