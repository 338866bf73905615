"""One handler per event type the pusher applies."""

from __future__ import annotations

from collections.abc import Mapping

from settings_replica.replica import SettingsReplica
from stream_runner.processor import Handler


def build_handlers(settings: SettingsReplica) -> Mapping[str, Handler]:
    """The pusher's handlers by event type.

    ABM signals, push requests and source changes (for the mirror) come with the pusher issue;
    until then they are consumed and counted as `ignored`.
    """
    return {"psync.settings.updated": settings.handler()}
