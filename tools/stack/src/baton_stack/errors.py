"""The two failures the stack tells apart."""

from __future__ import annotations


class StackError(Exception):
    """A failure to report to the user as-is, without a traceback."""


class ProbeError(Exception):
    """A server did not answer as a healthy server would; the caller may ask again."""
