"""The error every part of ``baton-agent`` raises for the user to read."""

from __future__ import annotations


class CliError(Exception):
    """Something to report as ``error: <message>`` on stderr with exit status 1."""
