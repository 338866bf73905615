"""Errors raised by the sandbox's domain code, turned into Pipedrive error bodies at the HTTP edge."""

from __future__ import annotations


class SandboxError(Exception):
    """Base class: an HTTP status and a message Pipedrive would send."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(SandboxError):
    """The record does not exist (or was deleted and purged)."""

    status = 404


class InvalidRequest(SandboxError):
    """A parameter or body field is missing or malformed."""

    status = 400


class Forbidden(SandboxError):
    """The caller may not do this."""

    status = 403
