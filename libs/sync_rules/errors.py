"""The base type of every error the rule book raises."""


class SyncRuleError(ValueError):
    """A value broke a sync rule; the message says what to change."""
