"""A private PostgreSQL and a private Kafka, started with the project's own scripts on free ports under a
throw-away state folder, so that fault tests can crash and restart them: the shared ones are never
stopped. Both are as `make up` runs them (PostgreSQL durable)."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import sys
from pathlib import Path

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "deploy" / "local"


async def _script(script: str, command: str, env: dict[str, str], deadline_s: float = 180) -> str:
    process = await asyncio.create_subprocess_exec(
        str(LOCAL / script),
        command,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), deadline_s)
    if process.returncode != 0:
        raise RuntimeError(f"{script} {command} failed ({process.returncode}):\n{output.decode()[-3000:]}")
    return output.decode()


class PrivatePostgres:
    """deploy/local/postgres.sh on a port and a state folder of its own."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.port = free_port()
        self._env = {"PSYNC_STATE_DIR": str(state), "POSTGRES_PORT": str(self.port)}

    @property
    def url(self) -> str:
        """Its DATABASE_URL."""
        return f"postgresql://psync:psync@127.0.0.1:{self.port}/psync"

    async def start(self) -> None:
        """Start it (initdb the first time) and wait until it accepts connections."""
        await _script("postgres.sh", "start", self._env)

    async def crash(self) -> None:
        """Stop it abruptly (`pg_ctl stop -m immediate`): no checkpoint, clients cut off."""
        await _script("postgres.sh", "kill", self._env)

    async def stop(self) -> None:
        """Stop it cleanly."""
        await _script("postgres.sh", "stop", self._env)


def kafka_jar_cache() -> str | None:
    """A jar cache to reuse: KAFKA_LIBS_DIR, this checkout's, or the main checkout's next to it."""
    for candidate in (
        os.environ.get("KAFKA_LIBS_DIR"),
        str(ROOT / ".state" / "kafka" / "libs"),
        str(ROOT.parent.parent / "main" / ".state" / "kafka" / "libs"),
    ):
        if candidate and Path(candidate, ".pom.sha256").is_file():
            return candidate
    return None


def kafka_cluster_id() -> str:
    """A new KRaft cluster id as Kafka's `Uuid.randomUuid` makes one: 16 random bytes, URL-safe base64
    without padding, never starting with '-' (Kafka refuses those)."""
    while True:
        text = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class PrivateKafka:
    """deploy/local/kafka.sh on ports and a state folder of its own; its topics created as `make up`
    creates them."""

    def __init__(self, state: Path, *, short_lived: bool = False) -> None:
        """`short_lived`: a broker for a test of a minute or two, whose JVM compiles with the JIT's first
        tier only (-XX:TieredStopAtLevel=1): the second tier costs more CPU than it saves in so short a
        life (measured at load 9 to 12: 9.6 -> 3.8 s of CPU to start, 10-14 -> 6-7 s to start again after
        a SIGKILL; 16-32 -> 9-10 s wall for each)."""
        self.state = state
        self.port, self.controller_port = free_port(), free_port()
        self._env = {
            "PSYNC_STATE_DIR": str(state),
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_HEAP": "384m",
            # A restart after a SIGKILL waits out the killed broker's session (9 s by default).
            "KAFKA_BROKER_SESSION_TIMEOUT_MS": "4000",
        }
        if short_lived:
            self._env["KAFKA_JVM_EXTRA_OPTS"] = "-XX:TieredStopAtLevel=1"
        cache = kafka_jar_cache()
        if cache is not None:
            self._env["KAFKA_LIBS_DIR"] = cache

    @property
    def bootstrap(self) -> str:
        """Its KAFKA_BOOTSTRAP."""
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start the broker (format its storage the first time) and wait until it serves."""
        cluster_id = self.state / "kafka" / "cluster.id"
        if not cluster_id.exists():  # kafka.sh would start a JVM (StorageTool random-uuid) for it
            cluster_id.parent.mkdir(parents=True, exist_ok=True)
            cluster_id.write_text(kafka_cluster_id() + "\n")
        await _script("kafka.sh", "start", self._env)

    def jvm_arguments(self) -> list[str]:
        """The running broker's command line."""
        pid = (self.state / "run" / "kafka.pid").read_text().strip()
        return Path(f"/proc/{pid}/cmdline").read_text().split("\0")

    def broker_settings(self) -> dict[str, str]:
        """The settings kafka.sh wrote for the broker (its server.properties)."""
        lines = (self.state / "kafka" / "config" / "server.properties").read_text().splitlines()
        pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
        return {name.strip(): value.strip() for name, value in pairs}

    async def create_topics(self) -> None:
        """Every topic of the registry."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(LOCAL / "create_topics.py"),
            env={**os.environ, "KAFKA_BOOTSTRAP": self.bootstrap},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 120)
        if process.returncode != 0:
            raise RuntimeError(f"create_topics failed:\n{output.decode()[-3000:]}")

    async def crash(self) -> None:
        """SIGKILL the broker."""
        await _script("kafka.sh", "kill", self._env)

    async def stop(self) -> None:
        """Stop the broker cleanly."""
        await _script("kafka.sh", "stop", self._env)


async def remove_state(state: Path) -> None:
    """Delete a private state folder (after its servers stopped)."""
    await asyncio.to_thread(shutil.rmtree, state, True)
