"""A command-line entry point run as an operator runs it: `python -m <module> ARGS...` as its own process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CommandResult:
    """What one command printed and the status it exited with."""

    status: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """All it printed: its standard output, then its standard error."""
        return self.stdout + self.stderr

    def json(self) -> Any:
        """Its standard output as JSON (for `--json` invocations)."""
        return json.loads(self.stdout)


async def run_module(
    module: str, *args: str, env: Mapping[str, str] | None = None, stdin: str = "", within_s: float = 120
) -> CommandResult:
    """`python -m <module> ARGS...` with this process's environment and `env` over it, `stdin` as its
    input; waits for its exit (at most `within_s` seconds)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, env={**os.environ, **(env or {})},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), within_s)
    assert process.returncode is not None
    return CommandResult(process.returncode, out.decode(), err.decode())
