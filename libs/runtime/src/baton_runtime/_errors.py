"""Refusals a service's domain raises and its HTTP API turns into 4xx answers."""

from __future__ import annotations


class RefusedError(Exception):
    """A request refused for a reason the caller can fix.

    Subclasses name the reason with a class-level HTTP ``status`` and machine ``code``;
    ``install_error_handlers`` answers ``{"detail": message, "code": code}`` with the status.
    """

    status = 422
    code = "invalid_request"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
