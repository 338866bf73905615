"""Imported first by each service's `python -m` entry point: keeps structlog from importing rich when the
process's standard error is not a terminal.

`import structlog` imports rich when it is installed (the development environment has it, for
schemathesis; the service images do not), only so that its console renderer can draw tracebacks with it:
0.1 s of CPU at every start of every service process. Off a terminal a service logs JSON lines
(`service_runtime.logs`), which never use rich; one told to render for a console there anyway
(`<SERVICE>_LOG_JSON=false`) draws tracebacks as structlog does without rich, as in the service images.
On a terminal nothing changes.
"""

from __future__ import annotations

import sys


def leave_rich_out(stderr_is_a_terminal: bool) -> None:
    """Make `import rich` fail in this process (structlog then does without it), unless standard error
    is a terminal or rich is imported already."""
    if not stderr_is_a_terminal:
        sys.modules.setdefault("rich", None)  # type: ignore[arg-type]


leave_rich_out(sys.stderr is not None and sys.stderr.isatty())
