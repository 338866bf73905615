"""The one error type of the filter language: it names the column and what was expected."""

from sync_rules.errors import SyncRuleError


class FilterError(SyncRuleError):
    """A filter expression is invalid at ``column`` (1-based); the message says what was expected."""

    def __init__(self, column: int, problem: str) -> None:
        super().__init__(f"Column {column}: {problem}")
        self.column = column
        self.problem = problem
