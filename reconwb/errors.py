"""The exceptions a user can see.

Every error that reaches a person (CLI, notebook, dashboard) derives from `ReconwbError`, whose message is one
line, already redacted, and says what to do. Anything else is a bug and is reported as an internal error.
"""

from __future__ import annotations


class ReconwbError(Exception):
    """Base of every expected failure; `str(err)` is safe to show."""

    exit_code = 1


class InvalidInput(ReconwbError):
    """The user gave something we cannot use (a bad argument, a malformed file)."""

    exit_code = 2


class NotFound(ReconwbError):
    """A named thing (connection, bank, endpoint, run) does not exist."""

    exit_code = 2


class AlreadyExists(ReconwbError):
    """A thing with that name exists already."""

    exit_code = 2


class Conflict(ReconwbError):
    """The request is valid but the current state forbids it (e.g. updating an obsolete connection)."""

    exit_code = 3
