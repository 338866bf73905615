"""`free_port`: a port nobody listens on, never the same one twice in a process (a test names several
servers' ports before it starts any of them)."""

from __future__ import annotations

import socket

from tests.support.ports import free_port


def test_a_port_is_never_handed_out_twice() -> None:
    # 2,000 draws from about 28,000 ephemeral ports: the kernel alone repeats some (tens, by the birthday
    # bound), since none of them is listened on between draws.
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)


def test_the_port_is_free_to_listen_on() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", free_port()))
        server.listen()
