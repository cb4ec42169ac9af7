"""User-facing error types: each message says what happened and what to do."""

from __future__ import annotations


class PerfdoctorError(Exception):
    """Base class; the CLI prints the message on one line and exits with ``exit_code``."""

    exit_code = 2

    def lines(self) -> list[str]:
        """What the CLI prints: one line per input that could not be used."""
        return [" ".join(str(self).split())]


class StoreError(PerfdoctorError):
    """The trace store is missing, empty, unreadable or from a newer perfdoctor."""


class ConfigError(PerfdoctorError):
    """``[tool.perfdoctor]`` holds something perfdoctor cannot use."""


class UsageError(PerfdoctorError):
    """The command line asks for something that cannot be done."""


class BadInputs(UsageError):
    """Several inputs of one command could not be used: one line for each."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages

    def lines(self) -> list[str]:
        return [" ".join(m.split()) for m in self.messages]


class DatabaseError(PerfdoctorError):
    """The database advisor cannot reach or use the database it was pointed at."""
