"""A TCP port to give a server the test or benchmark starts."""

from __future__ import annotations

import socket

_handed_out: set[int] = set()
"""The ports this process handed out: a test often names several servers' ports before it starts any of
them (nobody listens on the first yet), and the kernel may give the same free port twice in a row (two
pusher processes of one test were both given 52009, 2026-12-04; about 1 pair in 20,000 here)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now, and not one this process handed out before."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port
