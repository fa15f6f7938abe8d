"""One exception hierarchy for targetsync.

Every error a user can cause or meet carries one line of text that names the culprit
(a config key, a file and line, a table and column). The command line prints that line
and exits with the code the class declares (SPEC 8); ``--debug`` adds the traceback.
Driver exceptions are translated into these classes at the adapter boundary.
"""
from __future__ import annotations

from pathlib import Path


class TargetSyncError(Exception):
    """Base class. ``exit_code`` follows SPEC 8: 2 usage/configuration, 3 runtime."""

    exit_code = 3


class ConfigError(TargetSyncError):
    """A bad config key, flag, DSN file, table list or schema file: nothing was touched."""

    exit_code = 2


class SchemaMismatch(ConfigError):
    """A table is missing, has no primary key, or differs from the ``.skt``."""


class DataError(TargetSyncError):
    """A value or record that cannot be encoded, decoded or stored."""


class CktFormatError(DataError):
    """A malformed line in a change file; the message names file, line and field."""

    def __init__(self, reason: str, path: str = "?", line: int = 0, field: int | None = None):
        where = f"{path}:{line}" + (f" field {field}" if field is not None else "")
        super().__init__(f"{where}: {reason}")
        self.reason, self.path, self.line, self.field = reason, path, line, field


class ConnectError(TargetSyncError):
    """A database could not be reached or refused the credentials."""


class LeaseHeld(TargetSyncError):
    """Another loader holds the apply lease on this target."""


class OutputError(TargetSyncError):
    """A directory the tool writes (emit, done, checkpoint) cannot be written: missing,
    not a directory, full, or over a size limit. What was published before stays valid."""

    @classmethod
    def of(cls, exc: OSError, what: str, directory) -> "OutputError":
        name = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(directory) else ""
        return cls(f"cannot write the {what} {directory}: {exc.strerror or type(exc).__name__}{name}")


class OrderError(TargetSyncError):
    """A database returned keys out of the order the diff relies on."""


def read_user_file(path, what: str) -> str:
    """The text of a file the user named, or a ConfigError naming ``what`` and the path
    (never the contents: a DSN file holds a password)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} cannot be read ({type(exc).__name__})") from None
