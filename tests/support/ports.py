"""A TCP port to give a server the test or benchmark starts.

Ports come from below the kernel's ephemeral range (which it draws from for `bind(0)` and for outgoing
connections), each pytest-xdist worker from a slice of its own: two workers naming ports at once, or a
client's outgoing connection, never get a port a test named for a server it has not started yet. Under
`make test` two workers were once both given 49251: the second mapper exited with 'address already in
use' while its readiness probe was answered by the other worker's process (2026-12-04)."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

PORTS = range(20_000, 32_000)
"""Below Linux's default ephemeral range (32768-60999) and the local infrastructure's fixed ports."""

_LISTEN = "0A"  # a socket's state in /proc/net/tcp: TCP_LISTEN
_handed_out: set[int] = set()
"""The ports this process handed out: a test often names several servers' ports before it starts any of
them (nobody listens on the first yet), so a port free now may be one it already gave."""


def worker_ports(worker: str | None, workers: str | None) -> range:
    """The slice of `PORTS` of a pytest-xdist worker ("gw3" of "4" workers); all of them outside xdist."""
    if not worker or not workers or not worker.removeprefix("gw").isdigit():
        return PORTS
    count, index = max(1, int(workers)), int(worker.removeprefix("gw"))
    size = len(PORTS) // count
    start = PORTS.start + (index % count) * size
    return range(start, start + size)


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now, from this process's slice, and not one this
    process handed out before (the slice read from a random place on, around to where it began)."""
    ports = worker_ports(os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("PYTEST_XDIST_WORKER_COUNT"))
    first = random.randrange(len(ports))
    for i in range(len(ports)):
        port = ports[(first + i) % len(ports)]
        if port not in _handed_out and _is_free(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port left in {ports.start}-{ports.stop - 1}")


def listens_on(pid: int, port: int) -> bool | None:
    """Whether process `pid` holds the socket listening on TCP `port` (Linux's /proc; None elsewhere): a
    readiness probe answered on a port says nothing of whose server answered it."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return None
    inodes = {
        f"socket:[{fields[9]}]"
        for table in tables
        if table.exists()
        for fields in (line.split() for line in table.read_text().splitlines()[1:])
        if fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port
    }
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd) in inodes for fd in fds.iterdir())
    except FileNotFoundError:  # the process is gone
        return False
