"""Errors of the Pipedrive client, each with the activity log's standard message.

Callers turn them into a run status or an activity-log entry at the edge; `str(error)` is the message a
user sees, so it never holds a token, a URL with a query, or a response body.
"""

from __future__ import annotations

from datetime import UTC, datetime


class PipedriveError(Exception):
    """Base of every error the client raises; the message is the activity log's."""

    message = "Pipedrive request failed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)


class InvalidApiKey(PipedriveError):
    """The credential was refused (401 after a failed refresh, a revoked token, no credential stored)."""

    message = "Invalid API key"


class RateLimitExceeded(PipedriveError):
    """Pipedrive kept answering 429 (or blocked us with 403) after the retries the client allows."""

    message = "Rate limit exceeded"


class BudgetExhausted(PipedriveError):
    """The tenant's daily token share is spent: pause and resume at `resume_at` (epoch seconds)."""

    message = "Daily Pipedrive token budget exhausted"

    def __init__(self, resume_at: float) -> None:
        self.resume_at = resume_at
        when = datetime.fromtimestamp(resume_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        super().__init__(f"{self.message}; resuming at {when}")


class NotFound(PipedriveError):
    """The record does not exist (or is no longer visible to this credential)."""

    message = "Record not found in Pipedrive"


class PipedriveUnavailable(PipedriveError):
    """5xx answers or network failures that outlasted the bounded retries (transient)."""

    message = "Pipedrive is unavailable"


class UnexpectedResponse(PipedriveError):
    """A body the client cannot use: not JSON, no `data`, or data of the wrong shape."""

    message = "Unexpected response from Pipedrive"


class RequestRejected(PipedriveError):
    """Pipedrive refused the request as invalid (4xx other than 401/404/429): the message says why."""

    message = "Pipedrive rejected the request"


class ApiDomainRejected(PipedriveError):
    """An `api_domain` outside the allow-list (https `*.pipedrive.com` or a configured sandbox URL)."""

    message = "Pipedrive API domain is not allowed"


class CredentialsUnreadable(PipedriveError):
    """Stored credentials do not decrypt with this key and tenant (tampered, copied or wrong key)."""

    message = "Stored Pipedrive credentials cannot be decrypted"


class OAuthFailed(PipedriveError):
    """The OAuth flow failed: unknown or reused state, a refused code, or a bad token answer."""

    message = "Pipedrive authorization failed"
