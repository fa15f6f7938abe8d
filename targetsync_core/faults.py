"""Named fault points for the crash- and fault-injection tests.

``TARGETSYNC_CRASH_AT=name:n`` makes the process SIGKILL itself the n-th time it passes
the point ``name`` (1-based); ``TARGETSYNC_PAUSE_AT=name:n:seconds`` makes it sleep there
instead, so a test can break something (kill its database connections, start a rival run)
at a known moment. With ``TARGETSYNC_PAUSE_FLAG=path`` the pause creates that file as it
begins, so the test knows when; with ``TARGETSYNC_PAUSE_UNTIL=path`` it ends as soon as
that file exists (``seconds`` is then the longest it waits). Unset, a point costs one
dict lookup. Random-time kills from outside test the same code; these points make the
narrow windows (between the ``.hw`` sidecar and the rename, between commit and move)
reachable every time.
"""
from __future__ import annotations

import os
import signal
import time

_spec = os.environ.get("TARGETSYNC_CRASH_AT", "")
_name, _, _count = _spec.partition(":")
_pause_name, _, _pause = os.environ.get("TARGETSYNC_PAUSE_AT", "").partition(":")
_pause_count, _, _pause_seconds = _pause.partition(":")
_seen: dict[str, int] = {}


def point(name: str) -> None:
    if name == _pause_name and _passes(name) == int(_pause_count or 1):
        flag = os.environ.get("TARGETSYNC_PAUSE_FLAG")
        if flag:
            open(flag, "w").close()
        _pause(float(_pause_seconds or 1), os.environ.get("TARGETSYNC_PAUSE_UNTIL"))
    if not _spec or name != _name:
        return
    if _passes(name, count=name != _pause_name) == int(_count or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def _pause(seconds: float, until: str | None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (until and os.path.exists(until)):
        time.sleep(0.01)


def _passes(name: str, count: bool = True) -> int:
    if count:
        _seen[name] = _seen.get(name, 0) + 1
    return _seen.get(name, 0)
