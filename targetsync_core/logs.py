"""Logging: structured ``key=value`` lines to stderr and to ``logFile``, secrets scrubbed."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from targetsync_core.dsn import scrub
from targetsync_core.errors import ConfigError

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class _Scrub(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = ()
        return True


class _BarAwareHandler(logging.StreamHandler):
    """Clears the progress bar's line before writing, so the two never interleave."""

    progress = None

    def emit(self, record):
        if self.progress is not None:
            self.progress.clear()
        super().emit(record)


def setup(log_file: Path | None, debug: bool = False) -> _BarAwareHandler:
    root = logging.getLogger("targetsync")
    root.handlers.clear()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
    handler = _BarAwareHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT, "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(_Scrub())
    root.addHandler(handler)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            fh = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            shown = str(log_file) if len(str(log_file)) <= 120 else str(log_file)[:117] + "..."
            raise ConfigError(f"logFile {shown} cannot be written: {exc.strerror or type(exc).__name__}") from None
        fh.setFormatter(logging.Formatter(FORMAT, "%Y-%m-%dT%H:%M:%S"))
        fh.addFilter(_Scrub())
        root.addHandler(fh)
    return handler
