"""deploy/local/services.sh and lib.sh, exercised with throw-away dummy services (no Kafka needed).

Each test gets its own state folder (PSYNC_STATE_DIR) and free ports, so it never touches the
developer's running services in .state/.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES_SH = ROOT / "deploy" / "local" / "services.sh"
LIB_SH = ROOT / "deploy" / "local" / "lib.sh"

# A minimal service: /readyz answers 200 after a short start-up; behaviour switches via env.
DUMMY = textwrap.dedent(
    """
    import os, signal, sys, time
    from http.server import BaseHTTPRequestHandler, HTTPServer

    name = __spec__.name
    if os.environ.get("DUMMY_CRASH"):
        print("dummy crashing on purpose", flush=True)
        sys.exit(3)
    if os.environ.get("DUMMY_IGNORE_TERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/readyz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    print("env", os.environ["KAFKA_BOOTSTRAP"], os.environ["DATABASE_URL"], flush=True)
    keys = (os.environ.get("PSYNC_CREDENTIALS_KEY"), os.environ.get("CONSOLE_SERVICE_KEYS_KEY"))
    print("keys", *keys, flush=True)
    time.sleep(0.3)
    port = int(os.environ[name.upper() + "_HTTP_PORT"])
    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
    """
)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


class Env:
    """A state folder, a module folder and the environment to run services.sh with."""

    def __init__(self, tmp_path: Path) -> None:
        self.state = tmp_path / "state"
        self.modules = tmp_path / "modules"
        self.modules.mkdir()
        # Without the caller's KAFKA_BOOTSTRAP / DATABASE_URL, so that the script's defaults show.
        inherited = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP", "DATABASE_URL")}
        self.env = {
            **inherited,
            "PSYNC_STATE_DIR": str(self.state),
            "PSYNC_PYTHON": sys.executable,
            "PYTHONPATH": str(self.modules),
            "SERVICES_READY_DEADLINE": "20",
            "SERVICES_STOP_GRACE": "2",
        }
        self.names: list[str] = []

    def add_service(self, name: str, **extra_env: str) -> int:
        (self.modules / f"{name}.py").write_text(DUMMY)
        port = free_port()
        self.env[f"{name.upper()}_HTTP_PORT"] = str(port)
        self.env.update(extra_env)
        self.names.append(name)
        return port

    def run(self, command: str, services: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "SERVICES": services if services is not None else " ".join(self.names)}
        return subprocess.run(
            [str(SERVICES_SH), command], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    def pid(self, name: str) -> int:
        return int((self.state / "run" / f"svc-{name}.pid").read_text())


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    # Never leave a dummy behind, whatever the test did.
    e.run("stop")


def test_start_status_stop_are_idempotent(env: Env) -> None:
    env.add_service("dummy_alpha")
    env.add_service("dummy_beta")

    started = env.run("start")
    assert started.returncode == 0, started.stderr
    pids = {name: env.pid(name) for name in env.names}
    assert all(pid_alive(pid) for pid in pids.values())
    log = (env.state / "logs" / "dummy_alpha.log").read_text()
    assert "env 127.0.0.1:19092 postgresql://psync:psync@127.0.0.1:55432/psync" in log

    again = env.run("start")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stderr
    assert {name: env.pid(name) for name in env.names} == pids

    status = env.run("status")
    assert status.returncode == 0
    assert status.stdout.count("ready at http://127.0.0.1:") == 2

    stopped = env.run("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not any(pid_alive(pid) for pid in pids.values())
    assert env.run("status").returncode == 3
    assert env.run("stop").returncode == 0


def test_services_get_random_keys_kept_under_state_unless_the_caller_sets_them(env: Env) -> None:
    env.add_service("dummy_keys")
    for name in ("PSYNC_CREDENTIALS_KEY", "CONSOLE_SERVICE_KEYS_KEY", "PSYNC_LOCAL_MODE"):
        env.env.pop(name, None)

    assert env.run("start").returncode == 0
    assert env.run("stop").returncode == 0
    assert env.run("start").returncode == 0  # a restart keeps the keys
    env.env["PSYNC_CREDENTIALS_KEY"] = "ab" * 32
    assert env.run("stop").returncode == 0
    assert env.run("start").returncode == 0

    keys = env.state / "keys"
    credentials, console = ((keys / n).read_text() for n in ("credentials-key", "console-service-keys-key"))
    assert all(len(k) == 64 and int(k, 16) for k in (credentials, console)) and credentials != console
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert stat.S_IMODE((keys / "credentials-key").stat().st_mode) == 0o600
    log = (env.state / "logs" / "dummy_keys.log").read_text()
    assert log.count(f"keys {credentials} {console}") == 2
    assert f"keys {'ab' * 32} {console}" in log


def test_stop_covers_services_started_with_another_list(env: Env) -> None:
    env.add_service("dummy_gamma")
    assert env.run("start").returncode == 0
    pid = env.pid("dummy_gamma")

    assert env.run("stop", services="unrelated").returncode == 0
    assert not pid_alive(pid)


def test_a_crashing_service_fails_start_and_shows_its_log(env: Env) -> None:
    env.add_service("dummy_crash", DUMMY_CRASH="1")
    result = env.run("start")
    assert result.returncode == 1
    assert "dummy_crash exited during startup" in result.stderr
    assert "dummy crashing on purpose" in result.stderr


def test_a_service_ignoring_sigterm_is_killed_after_the_grace_period(env: Env) -> None:
    env.add_service("dummy_stubborn", DUMMY_IGNORE_TERM="1")
    assert env.run("start").returncode == 0
    pid = env.pid("dummy_stubborn")

    started = time.monotonic()
    result = env.run("stop")
    assert result.returncode == 0
    assert "sending SIGKILL" in result.stderr
    assert not pid_alive(pid)
    assert time.monotonic() - started < 15


def test_a_stale_pidfile_never_signals_a_foreign_process(env: Env) -> None:
    env.add_service("dummy_stale")
    # Someone else's process now holds the pid our pidfile names (as after a reboot or pid reuse).
    foreign = subprocess.Popen(["sleep", "30"])
    try:
        run_dir = env.state / "run"
        run_dir.mkdir(parents=True)
        (run_dir / "svc-dummy_stale.pid").write_text(f"{foreign.pid}\n")

        assert env.run("status").returncode == 3
        assert env.run("stop").returncode == 0
        assert foreign.poll() is None, "stop signalled a process it did not start"
    finally:
        foreign.send_signal(signal.SIGTERM)
        foreign.wait()


def test_pid_of_matches_the_command_line(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        pidfile = tmp_path / "x.pid"
        pidfile.write_text(str(sleeper.pid))

        def pid_of(pattern: str) -> subprocess.CompletedProcess[str]:
            script = f'source "{LIB_SH}"; pid_of "{pidfile}" "{pattern}"'
            return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)

        assert pid_of("sleep 30").stdout.strip() == str(sleeper.pid)
        assert pid_of("kafka.Kafka").returncode != 0
    finally:
        sleeper.kill()
        sleeper.wait()


def test_replicas_run_as_instances_on_their_own_ports_and_stop_together(env: Env) -> None:
    port = env.add_service("dummy_alpha", DUMMY_ALPHA_REPLICAS="3")

    started = env.run("start")

    assert started.returncode == 0, started.stderr
    instances = ["dummy_alpha", "dummy_alpha-2", "dummy_alpha-3"]
    pids = [env.pid(name) for name in instances]
    assert len(set(pids)) == 3 and all(pid_alive(pid) for pid in pids)
    status = env.run("status")
    for n, name in enumerate(instances):
        assert (
            f"{name}: running (pid {pids[n]}), ready at http://127.0.0.1:{port + 100 * n}/" in status.stdout
        )
    assert (env.state / "logs" / "dummy_alpha-2.log").exists()

    stopped = env.run("stop", services="")
    assert stopped.returncode == 0, stopped.stderr
    assert not any(pid_alive(pid) for pid in pids)


def test_a_replica_count_that_is_not_a_number_is_refused(env: Env) -> None:
    env.add_service("dummy_alpha", DUMMY_ALPHA_REPLICAS="three")

    started = env.run("start")

    assert started.returncode != 0
    assert "DUMMY_ALPHA_REPLICAS must be a positive number" in started.stderr


def test_make_up_runs_two_mappers_unless_told_otherwise(env: Env) -> None:
    default = env.run("instances", services="connector mapper pusher")
    one = subprocess.run(
        [str(SERVICES_SH), "instances"],
        env={**env.env, "SERVICES": "mapper", "MAPPER_REPLICAS": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert default.returncode == 0, default.stderr
    assert default.stdout.split() == ["connector", "mapper", "mapper-2", "pusher"]
    assert one.stdout.split() == ["mapper"]
