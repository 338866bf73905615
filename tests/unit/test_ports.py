"""`free_port`: a port nobody listens on, below the kernel's ephemeral range, from a slice of its own for
each pytest-xdist worker, never the same one twice in a process (a test names several servers' ports
before it starts any of them)."""

from __future__ import annotations

import os
import socket

from tests.support.ports import PORTS, free_port, listens_on, worker_ports


def test_a_port_is_never_handed_out_twice() -> None:
    ports = [free_port() for _ in range(1000)]
    assert len(set(ports)) == len(ports)


def test_the_port_is_free_to_listen_on() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", free_port()))
        server.listen()


def test_ports_lie_below_the_kernels_ephemeral_range() -> None:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        ephemeral_low = int(f.read().split()[0])
    assert PORTS.stop <= ephemeral_low
    assert all(p in PORTS for p in (free_port() for _ in range(50)))


def test_each_worker_has_ports_no_other_worker_has() -> None:
    slices = [set(worker_ports(f"gw{i}", "4")) for i in range(4)]
    assert all(len(s) == len(PORTS) // 4 for s in slices)
    assert set.union(*slices) <= set(PORTS)
    assert sum(len(s) for s in slices) == len(set.union(*slices))  # pairwise disjoint


def test_outside_xdist_the_whole_range_is_used() -> None:
    assert worker_ports(None, None) == PORTS
    assert worker_ports("master", "4") == PORTS


def test_a_listening_socket_is_found_in_its_process_only() -> None:
    port = free_port()
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        assert listens_on(os.getpid(), port) is False  # bound, not listening yet
        server.listen()
        assert listens_on(os.getpid(), port) is True
        assert listens_on(os.getppid(), port) is False  # another process does not hold it
    assert listens_on(os.getpid(), port) is False
