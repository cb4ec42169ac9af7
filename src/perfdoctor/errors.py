"""User-facing error types: each message says what happened and what to do."""


class PerfdoctorError(Exception):
    """Base class; the CLI prints the message on one line and exits with ``exit_code``."""

    exit_code = 2


class StoreError(PerfdoctorError):
    """The trace store is missing, empty, unreadable or from a newer perfdoctor."""


class ConfigError(PerfdoctorError):
    """``[tool.perfdoctor]`` holds something perfdoctor cannot use."""


class UsageError(PerfdoctorError):
    """The command line asks for something that cannot be done."""


class DatabaseError(PerfdoctorError):
    """The database advisor cannot reach or use the database it was pointed at."""
