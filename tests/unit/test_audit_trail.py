"""Audit entries: who acted (the actor a request names) and what changed (the settings' differing values)."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.audit_trail import audit_entry, settings_changes
from connector.tenant_settings import default_settings
from schemas.events.audit import Actor, AuditAction, AuditChange
from schemas.events.settings import AutoPush, Frequency
from tenant_auth.actors import acting_as, named_actor

AT = datetime(2026, 11, 1, 9, tzinfo=UTC)


def test_the_actor_a_header_names_is_trimmed_stripped_of_controls_and_bounded() -> None:
    assert named_actor("  ann@acme.example ") == "ann@acme.example"
    assert named_actor("ann\r\nX-Evil: 1\x00") == "annX-Evil: 1"
    assert named_actor("a" * 400) == "a" * 320
    assert named_actor(" \t") is None and named_actor(None) is None


def test_a_settings_change_lists_each_value_that_changed_by_its_path() -> None:
    before = default_settings()
    after = before.model_copy(
        update={"version": 2, "frequency": Frequency.EVERY_1H, "auto_push": AutoPush(enabled=True)}
    )

    assert settings_changes(before, after) == [
        AuditChange(path="auto_push.enabled", before=False, after=True),
        AuditChange(path="frequency", before="manual", after="1h"),
    ]
    assert settings_changes(before, before.model_copy(update={"version": 9})) == []


def test_an_entry_names_the_current_actor_and_a_change_of_nothing_is_no_entry() -> None:
    change = [AuditChange(path="frequency", before="manual", after="every_1h")]
    with acting_as(Actor(key_id="k1", name="ann@acme.example")):
        entry = audit_entry(AuditAction.SETTINGS_CHANGED, change, None, AT)
        reconnect = audit_entry(AuditAction.CONNECTED, [], "API token", AT)

    assert entry is not None and entry.actor == Actor(key_id="k1", name="ann@acme.example")
    assert reconnect is not None and reconnect.changes == ()
    assert audit_entry(AuditAction.SETTINGS_CHANGED, [], None, AT) is None
    system = audit_entry(AuditAction.DISCONNECTED, [], None, AT)
    assert system is not None and system.actor == Actor()
