"""A private three-broker KRaft cluster on loopback, from the same jars as deploy/local/kafka.sh (its jar
cache): each node a broker and a controller (static quorum of the three), every topic replicated three
times with min.insync.replicas 2, so one node can die and acknowledged writes stay."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from tests.outages.private_infra import LOCAL, kafka_jar_cache
from tests.support.ports import free_port

NODES = 3

SETTINGS = """process.roles=broker,controller
node.id={node}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}
offsets.topic.replication.factor=3
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
share.coordinator.state.topic.num.partitions=1
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
auto.create.topics.enable=false
num.partitions=1
num.network.threads=1
num.io.threads=2
background.threads=1
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
group.coordinator.threads=1
share.coordinator.threads=1
log.segment.bytes=67108864
"""


class KraftCluster:
    """Three broker+controller JVMs under `state`, killed and removed by the caller."""

    def __init__(self, state: Path) -> None:
        libs = kafka_jar_cache()
        assert libs is not None, "no Kafka jar cache: run deploy/local/kafka.sh start once"
        self.libs = libs
        self.state = state
        self.ports = [free_port() for _ in range(NODES)]
        self.controllers = [free_port() for _ in range(NODES)]
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        self.cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()

    @property
    def bootstrap(self) -> str:
        """Every node's PLAINTEXT address (a client needs any one that is up)."""
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def _config(self, node: int) -> Path:
        voters = ",".join(f"{n + 1}@127.0.0.1:{port}" for n, port in enumerate(self.controllers))
        folder = self.state / f"node{node}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "log4j2.properties").write_text(
            "status = warn\nappender.file.type = File\nappender.file.name = FILE\n"
            f"appender.file.fileName = {folder}/server.log\nappender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\nrootLogger.level = INFO\n"
            "rootLogger.appenderRef.file.ref = FILE\n"
        )
        config = folder / "server.properties"
        config.write_text(
            SETTINGS.format(
                node=node,
                voters=voters,
                port=self.ports[node - 1],
                controller=self.controllers[node - 1],
                data=folder / "data",
            )
        )
        return config

    def _java(self, node: int, *args: str) -> list[str]:
        folder = self.state / f"node{node}"
        return [
            "java",
            "-Xms256m",
            "-Xmx256m",
            "-XX:+UseSerialGC",
            f"-Dlog4j2.configurationFile={folder}/log4j2.properties",
            f"-Dkafka.logs.dir={folder}",
            "-cp",
            f"{self.libs}/*",
            *args,
        ]

    async def start(self) -> None:
        """Format every node's storage with one cluster id, start the three, wait until all serve."""
        for node in range(1, NODES + 1):
            config = self._config(node)
            formatting = await asyncio.create_subprocess_exec(
                *self._java(
                    node, "kafka.tools.StorageTool", "format", "-t", self.cluster_id, "-c", str(config)
                ),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.STDOUT,
            )
            assert await formatting.wait() == 0, f"formatting node {node} failed"
        for node in range(1, NODES + 1):
            await self.start_node(node)
        await self.wait_brokers(NODES)

    async def start_node(self, node: int) -> None:
        """Start one node's JVM (its storage formatted)."""
        folder = self.state / f"node{node}"
        with (folder / "stdout.log").open("ab") as out:
            self.processes[node] = await asyncio.create_subprocess_exec(
                *self._java(node, "kafka.Kafka", str(folder / "server.properties")),
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )

    async def wait_brokers(self, count: int, within_s: float = 180) -> None:
        """Until the cluster's metadata lists `count` brokers."""
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            try:
                admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
                await admin.start()
                try:
                    brokers = len((await admin.describe_cluster())["brokers"])
                finally:
                    await admin.close()
                if brokers >= count:
                    return
            except Exception:  # not up yet
                pass
            assert asyncio.get_running_loop().time() < deadline, f"{count} brokers not up in {within_s} s"
            await asyncio.sleep(1)

    async def create_topics(self) -> None:
        """Every topic of the registry, three replicas each."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(LOCAL / "create_topics.py"),
            "--replication-factor",
            str(NODES),
            env={**os.environ, "KAFKA_BOOTSTRAP": self.bootstrap},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 180)
        assert process.returncode == 0, output.decode()[-3000:]

    async def partitions(self) -> list[dict[str, Any]]:
        """Every partition of every topic (Kafka's own included): its topic, leader, replicas and ISR."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10000)
        await admin.start()
        try:
            described = await admin.describe_topics(await admin.list_topics())
        finally:
            await admin.close()
        return [{**p, "topic": t["topic"]} for t in described for p in t["partitions"]]

    async def wait_partitions(self, accept: Callable[[dict[str, Any]], bool], within_s: float) -> int:
        """Until `accept` holds for every partition; how many there are."""
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            try:
                found = await self.partitions()
                if found and all(accept(p) for p in found):
                    return len(found)
            except Exception:  # a node just went away or came back: ask again
                found = []
            late = [(p["topic"], p["partition"], p["leader"], p["isr"]) for p in found if not accept(p)]
            assert asyncio.get_running_loop().time() < deadline, f"not within {within_s} s: {late[:5]}"
            await asyncio.sleep(1)

    async def kill(self, node: int) -> None:
        """SIGKILL one node."""
        process = self.processes[node]
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()

    async def stop(self) -> None:
        """SIGKILL every node still running."""
        for node in list(self.processes):
            await self.kill(node)
