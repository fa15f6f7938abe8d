"""The emit directory's files (SPEC 3.3) and the atomic, durable way each is written.

Layout: ``N.ckt`` (published whole), ``N.ckt.hw`` (high-water sidecar, durable before
its ``N.ckt`` appears), ``CHANGE.DONE`` (last), ``targetsync.run`` (the emit run's id, so
a loader never mistakes a new run's ``0.ckt`` for an old one's), ``emit.lock`` (held by
the one emitter writing here), and the transient ``part_*.part`` and ``building.tmp``.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from targetsync_core import faults
from targetsync_core.errors import LeaseHeld

DONE = "CHANGE.DONE"
PROGRESS = "progress.json"
RUN = "targetsync.run"
BUILDING = "building.tmp"
LOCK = "emit.lock"        # held by the emitter writing the directory
LOAD_LOCK = "load.lock"   # held by the loader applying the directory's run
EMITTER_BUSY = "emit directory {directory} is in use by another emitter ({holder}); wait for it to finish or stop it"
LOADER_BUSY = ("emit directory {directory} is being applied by a loader ({holder}); a fresh emit would take "
               "its files away: wait for the loader to finish, stop it, or emit with resume=true")
SECOND_LOADER = ("emit directory {directory} is being applied by another loader ({holder}); "
                 "wait for it to finish or stop it")
CKT_RE = re.compile(r"^(0|[1-9][0-9]*)\.ckt$")
HW_RE = re.compile(r"^(0|[1-9][0-9]*)\.ckt\.hw$")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` aside, fsync it, rename it into place, fsync the folder."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


@dataclass(frozen=True)
class Position:
    """How far published output reaches: every window before (table_index, window), and
    of that window the records with key <= ``through`` (all of them if ``complete``)."""

    table_index: int
    table: str
    window: int
    through: list[str] | None
    complete: bool

    def after(self, other: "Position") -> bool:
        """Strictly further than ``other`` (only whole-window comparisons are needed)."""
        mine = (self.table_index, self.window, self.complete)
        theirs = (other.table_index, other.window, other.complete)
        return mine > theirs


def write_progress(path: Path, pos: Position, run_id: str) -> None:
    write_durably(path, json.dumps({"run": run_id, **asdict(pos)}).encode())


def read_progress(path: Path | None, run_id: str) -> Position | None:
    try:
        doc = json.loads(path.read_text()) if path else None
    except (FileNotFoundError, ValueError):
        return None
    if not doc or doc.pop("run", None) != run_id:
        return None
    return Position(**doc)


@dataclass(frozen=True)
class HighWater:
    """What ``N.ckt`` (and every file before it) holds: all windows before
    (table_index, window), and of that window the records with key <= ``through``
    (every record if ``complete``). ``size``/``sha256`` identify the file's bytes."""

    run: str
    file: int
    table_index: int
    table: str
    window: int
    through: list[str] | None
    complete: bool
    records: int
    size: int
    sha256: str

    def dumps(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @property
    def position(self) -> Position:
        return Position(self.table_index, self.table, self.window, self.through, self.complete)

    @classmethod
    def load(cls, path: Path) -> "HighWater":
        return cls(**json.loads(path.read_text()))


def lock_directory(directory: Path, name: str = LOCK, refusal: str = EMITTER_BUSY, wait: float = 0.0):
    """Take ``directory`` for this process: an exclusive ``flock`` on the file ``name``
    there (``emit.lock``: the emitter writing it; ``load.lock``: the loader applying its
    run), released when the returned file is closed or the process dies, so a crash never
    leaves it held. Retries for ``wait`` seconds, then raises LeaseHeld with ``refusal``
    (formatted with ``directory`` and ``holder``)."""
    fh = open(directory / name, "a+")
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise LeaseHeld(refusal.format(directory=directory, holder=holder)) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    fh.flush()
    return fh


def ckt_numbers(directory: Path) -> list[int]:
    return sorted(int(m.group(1)) for p in directory.iterdir() if (m := CKT_RE.match(p.name)))


def hw_numbers(directory: Path) -> list[int]:
    return sorted(int(m.group(1)) for p in directory.iterdir() if (m := HW_RE.match(p.name)))


def clear_stale(directory: Path) -> None:
    """A fresh run removes every earlier output so no loader sees a leftover file."""
    for p in directory.iterdir():
        if (CKT_RE.match(p.name) or HW_RE.match(p.name) or p.name in (DONE, BUILDING, RUN)
                or p.name.startswith("part_") or p.name.endswith(".hw.tmp")):
            p.unlink()
    fsync_dir(directory)


def new_run(directory: Path, plan: dict | None = None) -> str:
    """Start a run in ``directory``: its id, and the ``plan`` a resume must continue
    (the settings that decide which windows and files the run's records fall in)."""
    run_id = uuid.uuid4().hex
    write_durably(directory / RUN, json.dumps({"run": run_id, "plan": plan}).encode())
    return run_id


def _run_doc(directory: Path) -> dict:
    try:
        doc = json.loads((directory / RUN).read_text())
    except (FileNotFoundError, ValueError, UnicodeDecodeError, OSError):
        return {}
    return doc if isinstance(doc, dict) and isinstance(doc.get("run"), str) else {}


def read_run(directory: Path) -> str | None:
    return _run_doc(directory).get("run")


def read_plan(directory: Path) -> dict | None:
    """The plan the directory's run recorded (None: none, or an older version's run)."""
    plan = _run_doc(directory).get("plan")
    return plan if isinstance(plan, dict) else None


def publish(directory: Path, building: Path, hw: HighWater) -> Path:
    """Make ``building`` (already fsync'd) the file ``hw.file``: sidecar first, then the
    rename, so a crash between the two is repaired by :func:`repair_publish`."""
    write_durably(directory / f"{hw.file}.ckt.hw", hw.dumps())
    faults.point("emit.after_hw")
    final = directory / f"{hw.file}.ckt"
    os.replace(building, final)
    fsync_dir(directory)
    faults.point("emit.after_publish")
    return final


def write_done(directory: Path) -> None:
    write_durably(directory / DONE, b"")
