"""An outgoing message stays the frozen value its dataclass declares, though it is built without the
generated `__init__`."""

from __future__ import annotations

import dataclasses

import pytest

from stream_runner.messages import OutgoingMessage


def test_an_outgoing_message_is_a_frozen_value() -> None:
    message = OutgoingMessage("topic", "acme:organization:7", b"{}", (("h", b"1"),))

    assert message == OutgoingMessage(
        topic="topic", key="acme:organization:7", value=b"{}", headers=(("h", b"1"),)
    )
    assert hash(message) == hash(OutgoingMessage("topic", "acme:organization:7", b"{}", (("h", b"1"),)))
    assert OutgoingMessage("topic", "k", b"v").headers == ()
    assert dataclasses.astuple(message) == ("topic", "acme:organization:7", b"{}", (("h", b"1"),))
    assert dataclasses.replace(message, key="acme:organization:8").key == "acme:organization:8"
    assert (
        repr(OutgoingMessage("t", "k", b"v")) == "OutgoingMessage(topic='t', key='k', value=b'v', headers=())"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.key = "other"  # type: ignore[misc]
