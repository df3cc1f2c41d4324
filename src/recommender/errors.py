"""The error a user can fix: shown as a one-line message by every command, never a trace."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input or a bad request: the message names the file or field and the value."""
