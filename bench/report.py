"""What every benchmark adds to its figures and how it writes them (`bench-results/<name>.json`)."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import orjson

RESULTS = Path(__file__).resolve().parents[1] / "bench-results"


def machine_facts() -> dict[str, Any]:
    """The machine and interpreter a figure was measured on."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


def measured_at() -> str:
    """Now, in UTC, as the reports stamp it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_report(name: str, figures: dict[str, Any]) -> Path:
    """Write `bench-results/<name>.json`, the figures stamped with the machine (`machine`) and the time
    (`measured_at`): last, or where the figures name them. Prints it; returns the path."""
    stamped = {**figures, "machine": machine_facts(), "measured_at": measured_at()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = orjson.dumps(stamped, option=orjson.OPT_INDENT_2).decode()
    path = RESULTS / f"{name}.json"
    path.write_text(text + "\n")
    print(text)
    return path
