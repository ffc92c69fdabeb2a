"""Errors of the data tools; each ends the command with a one-line message."""

from __future__ import annotations

from impulse_stream.errors import ImpulseStreamError


class DataToolError(ImpulseStreamError):
    """Bad arguments or input of ``generate``, ``export`` or ``backtest`` (exit code 2)."""


class Interrupted(Exception):
    """Ctrl-C: the run stopped cleanly; the message says where (exit code 130)."""
