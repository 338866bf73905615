"""One handler per event type the mapper applies."""

from __future__ import annotations

from collections.abc import Mapping

from settings_replica.replica import SettingsReplica
from stream_runner.processor import Handler


def build_handlers(settings: SettingsReplica) -> Mapping[str, Handler]:
    """The mapper's handlers by event type.

    Source changes, ABM signals and push results are applied by the ABM store (the mapper issue);
    until then they are consumed and counted as `ignored`.
    """
    return {"psync.settings.updated": settings.handler()}
