"""The deployment's topic namespace: logical names to the cluster's and back, and the one setting."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord
from pydantic import ValidationError

from mapper.settings import MapperSettings
from psyncctl.settings import CtlSettings
from schemas.topics import ALL_TOPICS, SOURCE_CHANGES
from stream_runner import namespace
from stream_runner.kafka_runner import incoming_from, incoming_of
from stream_runner.messages import IncomingMessage
from stream_runner.namespace import TopicNamespace, check_prefix


def test_the_default_namespace_keeps_the_registrys_names() -> None:
    plain = TopicNamespace()
    assert [plain.topic(t.name) for t in ALL_TOPICS] == [t.name for t in ALL_TOPICS]
    assert plain.group("psync-mapper") == "psync-mapper"


def test_a_prefix_puts_topics_and_groups_under_it_and_back() -> None:
    staging = TopicNamespace("staging.")
    assert staging.topic(SOURCE_CHANGES.name) == "staging.psync.source-changes.v1"
    assert staging.group("psync-mapper") == "staging.psync-mapper"
    assert staging.logical_topic("staging.psync.source-changes.v1") == SOURCE_CHANGES.name
    assert staging.logical_group("staging.psync-mapper") == "psync-mapper"


def test_another_namespaces_names_are_refused() -> None:
    staging = TopicNamespace("staging.")
    assert not staging.owns("psync.source-changes.v1")
    with pytest.raises(ValueError, match="outside the namespace"):
        staging.logical_topic("test-gw1.psync.source-changes.v1")
    with pytest.raises(ValueError, match="outside the namespace"):
        staging.logical_group("psync-mapper")


@pytest.mark.parametrize("prefix", ["with space.", "slash/", "ä.", "x" * 101])
def test_a_prefix_kafka_would_refuse_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="topic prefix"):
        TopicNamespace(prefix)


def test_the_namespace_comes_from_psync_topic_prefix() -> None:
    assert TopicNamespace.from_environment({}) == TopicNamespace()
    assert TopicNamespace.from_environment({"PSYNC_TOPIC_PREFIX": "blue-"}) == TopicNamespace("blue-")


def test_services_and_psyncctl_read_the_one_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSYNC_TOPIC_PREFIX", "blue-")
    assert MapperSettings().topic_namespace == TopicNamespace("blue-")
    assert CtlSettings().topic_namespace == TopicNamespace("blue-")
    monkeypatch.setenv("PSYNC_TOPIC_PREFIX", "no spaces")
    with pytest.raises(ValidationError, match="topic prefix"):
        MapperSettings()
    with pytest.raises(ValidationError, match="topic prefix"):
        CtlSettings()


def test_a_consumed_record_reaches_the_handlers_by_its_logical_topic() -> None:
    record = ConsumerRecord(
        topic="blue-psync.source-changes.v1", partition=3, offset=7, timestamp=1, timestamp_type=0,
        key=b"k", value=b"v", checksum=None, serialized_key_size=1, serialized_value_size=1, headers=[],
    )  # fmt: skip
    message = incoming_from(record, TopicNamespace("blue-"))
    assert (message.topic, message.partition, message.offset) == (SOURCE_CHANGES.name, 3, 7)


def test_a_partitions_records_become_the_messages_each_record_would() -> None:
    records = [
        ConsumerRecord(
            topic="blue-psync.source-changes.v1", partition=3, offset=offset, timestamp=1000 + offset,
            timestamp_type=0, key=key, value=value, checksum=None, serialized_key_size=1,
            serialized_value_size=1, headers=headers,
        )
        for offset, key, value, headers in [
            (7, b"k", b"v", []),
            (8, None, None, [("trace", b"1"), ("x", b"")]),
            (9, b"k2", b"v2", None),
        ]
    ]  # fmt: skip
    assert incoming_of(records, SOURCE_CHANGES.name) == [
        incoming_from(record, TopicNamespace("blue-")) for record in records
    ]
    # Built field by field in order (incoming_of skips the named tuple's own constructor).
    topic = SOURCE_CHANGES.name
    assert incoming_of(records, topic) == [
        IncomingMessage(topic=topic, partition=3, offset=7, key=b"k", value=b"v", timestamp_ms=1007),
        IncomingMessage(topic=topic, partition=3, offset=8, key=None, value=None,
                        headers=(("trace", b"1"), ("x", b"")), timestamp_ms=1008),
        IncomingMessage(topic=topic, partition=3, offset=9, key=b"k2", value=b"v2", timestamp_ms=1009),
    ]  # fmt: skip
    assert all(type(message) is IncomingMessage for message in incoming_of(records, topic))


def test_the_settings_check_the_prefix_once_and_keep_the_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []

    def counted_check(prefix: str) -> str:
        checked.append(prefix)
        return check_prefix(prefix)

    monkeypatch.setattr(namespace, "check_prefix", counted_check)
    monkeypatch.setenv("PSYNC_TOPIC_PREFIX", "blue-")
    settings = MapperSettings()
    used = [settings.topic_namespace.topic(t.name) for t in ALL_TOPICS]

    assert used[0].startswith("blue-") and settings.topic_namespace is settings.topic_namespace
    assert checked == ["blue-"]
