"""The CPU the infrastructure spends, for benchmarks that count it per record: PostgreSQL (the postmaster
and every process it started, the backends that already exited included) and the Kafka broker (the
process that listens on the bootstrap port). Read from Linux's /proc, so only when the server runs on
this machine (None otherwise, or when /proc does not let this user read it).

A shared server's CPU is everybody's: on a machine where others use the same PostgreSQL or Kafka, the
figure holds their work too (the benchmarks report the load average beside it)."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg

_TICKS = os.sysconf("SC_CLK_TCK")
_LISTEN = "0A"


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (field 3, the state, first)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _own_seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / _TICKS


def process_seconds(pid: int) -> float:
    """User + system CPU of a running process (not its children's)."""
    return _own_seconds(_stat_fields(pid))


def _reaped_children_seconds(fields: list[str]) -> float:
    return (int(fields[13]) + int(fields[14])) / _TICKS


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def _children_of(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat_fields(int(entry.name))[1]) == parent:
                    children.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    return children


def process_tree_seconds(root: int) -> float:
    """User + system CPU of `root`, of its live children, and of the children it already reaped."""
    fields = _stat_fields(root)
    total = _own_seconds(fields) + _reaped_children_seconds(fields)
    for child in _children_of(root):
        try:
            total += _own_seconds(_stat_fields(child))
        except OSError:
            continue  # exited since: its CPU moves to the root's reaped children, counted next time
    return total


async def postmaster_pid(pool: asyncpg.Pool) -> int | None:
    """The PostgreSQL server's main process, when it runs on this machine (the parent of the backend
    that serves this pool's connection)."""
    backend = int(await pool.fetchval("SELECT pg_backend_pid()"))
    try:
        parent = int(_stat_fields(backend)[1])
        if "postgres" in _command(backend) and "postgres" in _command(parent):
            return parent
    except (OSError, IndexError, ValueError):
        pass
    return None


def listening_pid(port: int) -> int | None:
    """The process that listens on 127.0.0.1/0.0.0.0:`port` (TCP, IPv4 or IPv6), or None."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            columns = line.split()
            if columns[3] == _LISTEN and int(columns[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{columns[9]}]")
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(entry.name)
        except OSError:
            continue
    return None


def kafka_pid(bootstrap: str) -> int | None:
    """The broker process behind the first bootstrap address, when it runs on this machine."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        return None
    pid = listening_pid(int(port))
    return pid if pid is not None and "kafka" in _command(pid).lower() else None


class InfrastructureCpu:
    """PostgreSQL's and Kafka's CPU seconds over a measured span (None for one not on this machine)."""

    def __init__(self, postgres: int | None, kafka: int | None) -> None:
        self._pids = {"postgres": postgres, "kafka": kafka}
        self._before = self._now()

    @classmethod
    async def of(cls, pool: asyncpg.Pool, bootstrap: str) -> InfrastructureCpu:
        """Start measuring the server behind `pool` and the broker behind `bootstrap`."""
        return cls(await postmaster_pid(pool), kafka_pid(bootstrap))

    def _now(self) -> dict[str, float | None]:
        seconds: dict[str, float | None] = {}
        for name, pid in self._pids.items():
            try:
                seconds[name] = process_tree_seconds(pid) if pid is not None else None
            except OSError:
                seconds[name] = None
        return seconds

    def spent(self) -> dict[str, float | None]:
        """CPU seconds since the start, by server."""
        now = self._now()
        spent: dict[str, float | None] = {}
        for name, before in self._before.items():
            after = now[name]
            spent[name] = round(after - before, 2) if before is not None and after is not None else None
        return spent
