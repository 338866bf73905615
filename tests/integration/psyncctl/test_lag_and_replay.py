"""`psyncctl lag`, `replay` and `restore-offsets` on a scratch topic and a fresh group."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import io
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.psyncctl.conftest import (
    Psyncctl,
    commit,
    committed,
    produce,
    read_all,
    run_psyncctl_process,
)
from tests.support.conditions import eventually
from tests.support.ports import free_port
from tests.topic_namespace import NAMESPACE


async def _now() -> datetime:
    return datetime.now(UTC)


def _assignment(consumer: AIOKafkaConsumer) -> Callable[[], Awaitable[set[TopicPartition]]]:
    async def probe() -> set[TopicPartition]:
        return set(consumer.assignment())

    return probe


async def _ten_messages(producer: AIOKafkaProducer, topic: str) -> None:
    await produce(producer, topic, [(f"acme:organization:{i}", b"{}") for i in range(6)], partition=0)
    await produce(producer, topic, [(f"acme:organization:{i}", b"{}") for i in range(4)], partition=1)


async def test_lag_reports_each_partition_of_a_group(
    psyncctl: Psyncctl, scratch_topic: str, raw_producer: AIOKafkaProducer, kafka_bootstrap: str
) -> None:
    group = f"itest-ctl-{secrets.token_hex(4)}"
    await _ten_messages(raw_producer, scratch_topic)
    await commit(
        kafka_bootstrap,
        group,
        {
            TopicPartition(scratch_topic, 0): 2,
            TopicPartition(scratch_topic, 1): 4,
            TopicPartition(scratch_topic, 2): 0,
        },
    )

    result = await psyncctl("lag", group, "--json")

    assert result.status == 0, result.stderr
    rows = {
        r["partition"]: (r["committed"], r["end"], r["lag"])
        for r in result.json()
        if r["topic"] == scratch_topic
    }
    assert rows == {0: (2, 6, 4), 1: (4, 4, 0), 2: (0, 0, 0)}
    text = await psyncctl("lag", group, "--nonzero")
    assert f"{group}: Empty, 0 member(s), lag 4" in text.stdout
    assert [line.split()[2] for line in text.stdout.splitlines() if scratch_topic in line] == ["0"]
    # A mistyped group: before, 'Dead, 0 member(s), lag 0', as if it were a group all caught up.
    typo = await psyncctl("lag", f"{group}x")
    assert f"{group}x: no such group (no member, no committed offset)" in typo.stdout


async def test_replay_moves_an_empty_group_back_saves_its_offsets_and_restores_them(
    psyncctl: Psyncctl,
    scratch_topic: str,
    raw_producer: AIOKafkaProducer,
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    tmp_path: Path,
) -> None:
    group = f"itest-ctl-{secrets.token_hex(4)}"
    await _ten_messages(raw_producer, scratch_topic)
    at_end = {TopicPartition(scratch_topic, 0): 6, TopicPartition(scratch_topic, 1): 4}
    await commit(kafka_bootstrap, group, at_end)

    dry = await psyncctl("replay", group, "--topic", scratch_topic, "--from", "1", "--dry-run", "--json")
    assert dry.status == 0, dry.stderr
    assert {p["partition"]: p["replays"] for p in dry.json()["partitions"]} == {0: 5, 1: 3, 2: 0}
    assert await committed(kafka_admin, group) == {(scratch_topic, 0): 6, (scratch_topic, 1): 4}

    done = await psyncctl(
        "replay", group, "--topic", scratch_topic, "--from", "1", "--save-dir", str(tmp_path)
    )
    assert done.status == 0, done.stderr
    assert await committed(kafka_admin, group) == {
        (scratch_topic, 0): 1,
        (scratch_topic, 1): 1,
        (scratch_topic, 2): 0,
    }
    [saved_name] = glob.glob(f"{tmp_path}/{group}-offsets-*.json")
    saved = Path(saved_name)
    assert f"psyncctl restore-offsets {saved}" in done.stdout
    assert {
        (o["topic"], o["partition"]): o["offset"]
        for o in json.loads(await asyncio.to_thread(saved.read_text))["offsets"]
    } == {
        (scratch_topic, 0): 6,
        (scratch_topic, 1): 4,
    }

    restored = await psyncctl("restore-offsets", str(saved))
    assert restored.status == 0, restored.stderr
    assert (await committed(kafka_admin, group))[(scratch_topic, 0)] == 6
    assert (await committed(kafka_admin, group))[(scratch_topic, 1)] == 4


async def test_one_replay_moves_a_group_back_on_several_topics_and_one_file_restores_them(
    psyncctl: Psyncctl,
    scratch_topic: str,
    another_scratch_topic: str,
    raw_producer: AIOKafkaProducer,
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    tmp_path: Path,
) -> None:
    # A service's source changes travel on two topics (the live one and the bulk one): replaying them since
    # a time is one command, with one undo.
    group, topics = f"itest-ctl-{secrets.token_hex(4)}", (scratch_topic, another_scratch_topic)
    for topic in topics:
        await _ten_messages(raw_producer, topic)
    at_end = {TopicPartition(t, p): n for t in topics for p, n in ((0, 6), (1, 4))}
    await commit(kafka_bootstrap, group, at_end)

    done = await psyncctl(
        "replay", group, "--topic", topics[0], "--topic", topics[1], "--from", "1",
        "--save-dir", str(tmp_path), "--json",
    )  # fmt: skip

    assert done.status == 0, done.stderr
    moved = {(p["topic"], p["partition"]): p["replays"] for p in done.json()["partitions"]}
    assert moved == {(t, p): n for t in topics for p, n in ((0, 5), (1, 3), (2, 0))}
    assert {k: v for k, v in (await committed(kafka_admin, group)).items() if k[1] != 2} == {
        (t, p): 1 for t in topics for p in (0, 1)
    }
    restored = await psyncctl("restore-offsets", done.json()["saved"])
    assert restored.status == 0, restored.stderr
    back = {k: v for k, v in (await committed(kafka_admin, group)).items() if k[1] != 2}
    assert back == {(tp.topic, tp.partition): n for tp, n in at_end.items()}


async def test_replay_from_a_time_starts_at_the_first_message_of_that_time(
    psyncctl: Psyncctl,
    scratch_topic: str,
    raw_producer: AIOKafkaProducer,
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    tmp_path: Path,
) -> None:
    group = f"itest-ctl-{secrets.token_hex(4)}"
    await produce(raw_producer, scratch_topic, [("acme:organization:1", b"old")] * 3, partition=0)
    # Messages are stamped in whole milliseconds when produced: the old ones at or before `cut`, the new
    # ones at least 2 ms after it, and the replay starts 1 ms after it.
    cut = datetime.now(UTC)
    await eventually(_now, lambda now: now >= cut + timedelta(milliseconds=2), within_s=5, what="2 ms passed")
    await produce(raw_producer, scratch_topic, [("acme:organization:1", b"new")] * 2, partition=0)
    await commit(kafka_bootstrap, group, {TopicPartition(scratch_topic, 0): 5})

    done = await psyncctl(
        "replay",
        group,
        "--topic",
        scratch_topic,
        "--partition",
        "0",
        "--from",
        (cut + timedelta(milliseconds=1)).isoformat(),
        "--save-dir",
        str(tmp_path),
    )

    assert done.status == 0, done.stderr
    assert (await committed(kafka_admin, group))[(scratch_topic, 0)] == 3


async def test_replay_refuses_a_group_with_members_and_moves_nothing(
    psyncctl: Psyncctl,
    scratch_topic: str,
    raw_producer: AIOKafkaProducer,
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    tmp_path: Path,
) -> None:
    group = f"itest-ctl-{secrets.token_hex(4)}"
    await _ten_messages(raw_producer, scratch_topic)
    member = AIOKafkaConsumer(
        NAMESPACE.topic(scratch_topic),
        bootstrap_servers=kafka_bootstrap,
        group_id=NAMESPACE.group(group),
        enable_auto_commit=False,
        auto_offset_reset="latest",
    )
    await member.start()
    try:
        await eventually(_assignment(member), bool, within_s=30, what="the member got its partitions")
        await member.commit({TopicPartition(NAMESPACE.topic(scratch_topic), 0): 6})

        # The plan can be read before the service is stopped (before, the dry run was refused too).
        dry = await psyncctl("replay", group, "--topic", scratch_topic, "--from", "0", "--dry-run")
        assert dry.status == 0, dry
        assert "dry run: 10 message(s) would be read again" in dry.stdout
        assert f"{group} has 1 member(s)" in dry.stdout and "will be refused until they stop" in dry.stdout

        refused = await psyncctl(
            "replay", group, "--topic", scratch_topic, "--from", "0", "--save-dir", str(tmp_path)
        )

        assert refused.status == 3
        assert "1 member(s)" in refused.stderr and "--replicas=0" in refused.stderr
        assert ".state/run/svc-<service>-*.pid" in refused.stderr  # every local replica, mapper-2 too
        assert (await committed(kafka_admin, group))[(scratch_topic, 0)] == 6
        assert glob.glob(f"{tmp_path}/*") == []
    finally:
        await member.stop()


async def test_a_tenant_replay_re_produces_only_that_tenants_messages_unchanged(
    psyncctl: Psyncctl, scratch_topic: str, raw_producer: AIOKafkaProducer, kafka_bootstrap: str
) -> None:
    await produce(
        raw_producer,
        scratch_topic,
        [
            ("acme:organization:1", b'{"id": "a1"}'),
            ("other:organization:1", b'{"id": "o1"}'),
            ("acme:person:x@acme.com", b'{"id": "a2"}'),
        ],
    )
    before = await read_all(kafka_bootstrap, scratch_topic)

    dry = await psyncctl(
        "replay",
        "psync-mapper",
        "--topic",
        scratch_topic,
        "--from",
        "0",
        "--tenant",
        "acme",
        "--dry-run",
        "--json",
    )
    assert dry.status == 0, dry.stderr
    assert sum(p["tenant_messages"] for p in dry.json()["partitions"]) == 2
    assert await read_all(kafka_bootstrap, scratch_topic) == before

    done = await psyncctl(
        "replay", "psync-mapper", "--topic", scratch_topic, "--from", "0", "--tenant", "acme", "--json"
    )

    assert done.status == 0, done.stderr
    assert done.json()["produced"] == 2
    after = await read_all(kafka_bootstrap, scratch_topic)
    copies = [m for m in after if m not in before]
    assert sorted((m[2], m[3]) for m in copies) == [
        (b"acme:organization:1", b'{"id": "a1"}'),
        (b"acme:person:x@acme.com", b'{"id": "a2"}'),
    ]
    originals = {(m[2], m[3]): m[0] for m in before}
    for partition, _, key, value, headers in copies:
        assert partition == originals[(key, value)]  # same key, same partition
        assert dict(headers)["psyncctl.replayed-from"].decode().startswith(f"{scratch_topic}:{partition}:")


async def test_bad_arguments_exit_2_with_a_message(psyncctl: Psyncctl, scratch_topic: str) -> None:
    result = await psyncctl("replay", "g", "--topic", scratch_topic, "--from", "yesterday-ish", "--dry-run")

    assert result.status == 2
    assert "neither an ISO 8601 time" in result.stderr


async def test_every_verb_has_help_and_every_write_a_dry_run(psyncctl: Psyncctl) -> None:
    verbs = [
        ["tenants"],
        ["tenants", "show"],
        ["lag"],
        ["replay"],
        ["restore-offsets"],
        ["dlq", "list"],
        ["dlq", "show"],
        ["dlq", "redrive"],
        ["resync"],
        ["runs", "show"],
        ["runs", "retry-failed"],
    ]
    writes = [["replay"], ["restore-offsets"], ["dlq", "redrive"], ["resync"], ["runs", "retry-failed"]]
    for verb in verbs:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            result = await psyncctl(*verb, "--help")
        assert result.status == 0 and "usage: psyncctl " + " ".join(verb) in out.getvalue(), verb
        assert ("--dry-run" in out.getvalue()) == (verb in writes), verb


async def test_the_console_script_runs_as_its_own_process(
    scratch_topic: str, raw_producer: AIOKafkaProducer, kafka_bootstrap: str, database_url: str
) -> None:
    group = f"itest-ctl-{secrets.token_hex(4)}"
    await _ten_messages(raw_producer, scratch_topic)
    await commit(kafka_bootstrap, group, {TopicPartition(scratch_topic, 0): 1})

    result = await run_psyncctl_process(
        "lag", group, "--json", env={"KAFKA_BOOTSTRAP": kafka_bootstrap, "DATABASE_URL": database_url}
    )

    assert result.status == 0, result.stderr
    # Partitions the group never committed count every message as lag.
    assert [(r["partition"], r["committed"], r["lag"]) for r in result.json()] == [
        (0, 1, 5),
        (1, None, 4),
        (2, None, 0),
    ]


async def test_files_and_settings_psyncctl_cannot_use_are_bad_arguments_with_their_reason(
    psyncctl: Psyncctl, tmp_path: Path, kafka_bootstrap: str, database_url: str
) -> None:
    """Before: a missing file exited 1 as if Kafka were down (`FileNotFoundError: [Errno 2] ...`), a file
    that is not JSON ended in a traceback, and so did a topic prefix psyncctl cannot use."""
    not_json = tmp_path / "offsets.json"
    await asyncio.to_thread(not_json.write_text, "psync-mapper 3 17\n")
    missing = tmp_path / "missing.json"

    for args, reason in [
        (("restore-offsets", str(missing)), f"cannot read {missing}: No such file or directory"),
        (("restore-offsets", str(not_json)), f"{not_json} is not a saved offsets file of psyncctl"),
        (("restore-offsets", str(tmp_path)), f"cannot read {tmp_path}: Is a directory"),
        (
            ("dlq", "redrive", "psync.mapper.dlq:0:0", "--value-file", str(missing)),
            f"cannot read {missing}: No such file or directory",
        ),
    ]:
        result = await psyncctl(*args)
        assert result.status == 2 and reason in result.stderr, (args, result)

    bad_prefix = await run_psyncctl_process(
        "lag",
        env={"KAFKA_BOOTSTRAP": kafka_bootstrap, "DATABASE_URL": database_url, "PSYNC_TOPIC_PREFIX": "a b"},
    )
    assert bad_prefix.status == 2, bad_prefix
    assert "a topic prefix is at most 100 of" in bad_prefix.stderr and "Traceback" not in bad_prefix.stderr


async def test_a_replay_for_a_group_that_does_not_read_the_topic_is_refused_and_creates_no_offsets(
    psyncctl: Psyncctl,
    scratch_topic: str,
    raw_producer: AIOKafkaProducer,
    kafka_admin: AIOKafkaAdminClient,
    tmp_path: Path,
) -> None:
    """A mistyped group, or a --topic the group does not read: before, the replay committed offsets for it
    (the mistyped group came into being) and exited 0."""
    await _ten_messages(raw_producer, scratch_topic)
    typo = f"itest-ctl-{secrets.token_hex(4)}"

    for group in (typo, "psync-mapper"):
        refused = await psyncctl(
            "replay", group, "--topic", scratch_topic, "--from", "0", "--save-dir", str(tmp_path)
        )
        assert refused.status == 3, refused
        assert f"{group} does not read {scratch_topic}" in refused.stderr
    assert "mapper reads abm.company-revealed.v1" in refused.stderr
    assert await committed(kafka_admin, typo) == {}
    assert glob.glob(f"{tmp_path}/*") == []


async def test_kafka_or_postgresql_out_of_reach_is_named_with_the_variable_that_points_at_it(
    kafka_bootstrap: str, database_url: str
) -> None:
    """Before: 'psyncctl: KafkaConnectionError: Unable to bootstrap from [...]' and 'psyncctl:
    InvalidPasswordError: password authentication failed ...', naming neither the variable nor the
    address psyncctl used."""
    nowhere = f"127.0.0.1:{free_port()}"
    no_kafka = await run_psyncctl_process(
        "lag", env={"KAFKA_BOOTSTRAP": nowhere, "DATABASE_URL": database_url}
    )
    assert no_kafka.status == 1, no_kafka
    assert f"psyncctl: Kafka at KAFKA_BOOTSTRAP ({nowhere}) cannot be reached" in no_kafka.stderr

    url = urlsplit(database_url)
    wrong_password = url._replace(netloc=f"{url.username}:not-the-password@{url.hostname}:{url.port}")
    no_postgres = await run_psyncctl_process(
        "tenants", env={"KAFKA_BOOTSTRAP": kafka_bootstrap, "DATABASE_URL": urlunsplit(wrong_password)}
    )
    assert no_postgres.status == 1, no_postgres
    where = f"{url.hostname}:{url.port}{url.path}"
    assert f"psyncctl: PostgreSQL at DATABASE_URL ({where}) cannot be used" in no_postgres.stderr
    assert "check DATABASE_URL" in no_postgres.stderr and "not-the-password" not in no_postgres.stderr
