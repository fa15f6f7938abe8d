"""A progress bar on a terminal; nothing (the structured logs speak) elsewhere."""
from __future__ import annotations

import shutil
import sys
import threading
import time


class Progress:
    def __init__(self, label: str, stream=None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label, self.total, self.done, self.info = label, 0, 0, {}
        self._lock = threading.Lock()
        self._last = 0.0
        self._t0 = time.monotonic()

    def add_total(self, n: int) -> None:
        with self._lock:
            self.total += n
            self._draw()

    def advance(self, n: int = 1, **info) -> None:
        with self._lock:
            self.done += n
            self.info.update(info)
            self._draw()

    def clear(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def close(self) -> None:
        with self._lock:
            self._draw(force=True)
            if self.enabled:
                self.stream.write("\n")
                self.stream.flush()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < 0.1):
            return
        self._last = now
        width = max(10, min(40, shutil.get_terminal_size((80, 20)).columns - 60))
        frac = self.done / self.total if self.total else 0.0
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        extra = " ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in self.info.items())
        self.stream.write(f"\r\033[K{self.label} [{bar}] {self.done}/{self.total or '?'} "
                          f"{extra} {now - self._t0:.1f}s")
        self.stream.flush()
