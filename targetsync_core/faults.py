"""Named crash points for the crash-safety tests.

``TARGETSYNC_CRASH_AT=name:n`` makes the process SIGKILL itself the n-th time it passes
the point ``name`` (1-based). Unset, a point costs one dict lookup. Random-time kills
from outside test the same code; these points make the narrow windows (between the
``.hw`` sidecar and the rename, between commit and move) reachable every time.
"""
from __future__ import annotations

import os
import signal

_spec = os.environ.get("TARGETSYNC_CRASH_AT", "")
_name, _, _count = _spec.partition(":")
_seen: dict[str, int] = {}


def point(name: str) -> None:
    if not _spec or name != _name:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] == int(_count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
