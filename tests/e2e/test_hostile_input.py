"""What a hostile but realistic user does (issue 23), table-driven: each case prepares a
drifted SQLite demo run directory, runs one command the way the audit did, and requires
its exit code and one line naming the culprit (no traceback), then that nothing was lost:
the case's own check, and, where the case ends with a repair, a sync that leaves validate
at zero. The report prints every input with its exit code and line.

Cases that need a database server are in ``tests/conformance/test_hostile_servers.py``.
"""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from targetsync_core.demo import write_run_dir
from targetsync_core.emit import files as F
from tests.helpers import ckt_records, cli

RESULTS: list[tuple[str, str, int, str]] = []   # (item, case, exit code, line), for the report


@dataclass
class Case:
    item: str                                   # the item number
    name: str
    run: Callable[[Path], object]               # does it; returns the CompletedProcess under test
    code: int
    needles: tuple[str, ...]
    check: Callable[[Path], None] = field(default=lambda d: None)   # nothing lost, nothing half done


def ts(d: Path, *args: str, **kw):
    return cli(*args, cwd=d, **kw)


def target_rows(d: Path) -> list:
    conn = sqlite3.connect(d / "target.db")
    try:
        return [conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in ("customers", "orders", "tags")]
    finally:
        conn.close()


def converges(d: Path) -> None:
    """A repair run (a fresh sync) then finds nothing left to do: nothing was lost for good."""
    r = ts(d, "sync", "--config", "sync.cfg", "--doneDirectory", "done-repair")
    assert r.returncode == 0, r.stderr
    assert ts(d, "validate", "--config", "emit.cfg").returncode == 0


def emitted(d: Path, *flags: str) -> None:
    r = ts(d, "emit", "--config", "emit.cfg", "--emitFileTargetMB", "0.002", *flags)
    assert r.returncode == 0, r.stderr
    assert len(F.ckt_numbers(d / "emit")) >= 3


# ---- 1. resume with another plan ---------------------------------------------------------

def crashed_emit(d: Path, window: int) -> None:
    r = ts(d, "emit", "--config", "emit.cfg", "--windowSize", str(window), "--emitFileTargetMB", "0.002",
           env={"TARGETSYNC_CRASH_AT": "emit.after_publish:3"})
    assert r.returncode == -9, r.stderr


def resume_with(window: int, first: int = 100) -> Callable:
    def run(d: Path):
        crashed_emit(d, first)
        return ts(d, "emit", "--config", "emit.cfg", "--resume", "true", "--windowSize", str(window),
                  "--emitFileTargetMB", "0.002")
    return run


def resumed_as_recorded(d: Path) -> None:
    """The refused resume changed nothing: resumed with the recorded window size, then
    applied, the target equals the source, each change applied once."""
    r = ts(d, "emit", "--config", "emit.cfg", "--resume", "true", "--windowSize", "100", "--emitFileTargetMB", "0.002")
    assert r.returncode == 0, r.stderr
    keys = [(f[1], tuple(f[2:4] if f[1] == "main.orders" else f[2:3]))
            for _, line in ckt_records(d / "emit") for f in [line.split("\t")]]
    assert len(keys) == len(set(keys)), "a change was emitted twice"
    assert ts(d, "apply", "--config", "apply.cfg").returncode == 0
    assert ts(d, "validate", "--config", "emit.cfg").returncode == 0


def resume_other_tables(d: Path):
    crashed_emit(d, 100)
    (d / "tables.txt").write_text("main.orders\nmain.tags\n")
    return ts(d, "emit", "--config", "emit.cfg", "--resume", "true", "--windowSize", "100")


def resume_other_source(d: Path):
    crashed_emit(d, 100)
    (d / "copy.db").write_bytes((d / "source.db").read_bytes())
    (d / "source.dsn").write_text("sqlite:///copy.db\n")
    return ts(d, "emit", "--config", "emit.cfg", "--resume", "true", "--windowSize", "100")


# ---- 2. a gap in the file numbers; 3. a truncated file ------------------------------------

def without(n: int) -> Callable:
    def run(d: Path):
        emitted(d)
        (d / "emit" / f"{n}.ckt").unlink()
        return ts(d, "apply", "--config", "apply.cfg")
    return run


def _last_missing(d: Path):
    emitted(d)
    last = max(F.ckt_numbers(d / "emit"))
    (d / "emit" / f"{last}.ckt").unlink()
    return ts(d, "apply", "--config", "apply.cfg")


def dangling_first(d: Path):
    emitted(d)
    (d / "emit" / "0.ckt").unlink()
    os.symlink(d / "nowhere.ckt", d / "emit" / "0.ckt")
    return ts(d, "apply", "--config", "apply.cfg")


def truncated(d: Path):
    emitted(d)
    ckt = d / "emit" / "0.ckt"
    before = target_rows(d)
    ckt.write_bytes(b"".join(ckt.read_bytes().splitlines(keepends=True)[:5]))
    r = ts(d, "apply", "--config", "apply.cfg")
    assert target_rows(d) == before and ckt.exists() and not (d / "done" / "0.ckt").exists()
    return r


def nothing_applied_past(n: int) -> Callable:
    def check(d: Path) -> None:
        assert not (d / "done" / f"{n + 1}.ckt").exists()
        converges(d)
    return check


# ---- 4. demo --dir over a user's directory --------------------------------------------------

def demo_into_precious(d: Path):
    mine = d / "precious"
    mine.mkdir()
    (mine / "thesis.txt").write_text("x\n")
    return ts(d, "demo", "--dir", "precious", "--rows", "20")


def demo_into_cwd(d: Path):
    (d / "notes.md").write_text("mine\n")
    return ts(d, "demo", "--dir", ".", "--rows", "20")


def thesis_kept(d: Path) -> None:
    assert (d / "precious" / "thesis.txt").read_text() == "x\n"


def cwd_kept(d: Path) -> None:
    assert (d / "sync.cfg").exists() and (d / "source.db").exists()
    assert not (d / "notes.md").exists() or (d / "notes.md").read_text() == "mine\n"


CASES = [
    Case("1", "resume with a larger windowSize", resume_with(2000), 2, ("windowSize", "100", "2000"),
         resumed_as_recorded),
    Case("1", "resume with a smaller windowSize", resume_with(33), 2, ("windowSize", "100", "33"), resumed_as_recorded),
    Case("1", "resume with another table list", resume_other_tables, 2, ("another table list",)),
    Case("1", "resume from another source database", resume_other_source, 2, ("source", "copy.db")),
    Case("2", "a gap: 1.ckt missing, CHANGE.DONE there", without(1), 3, ("1.ckt", "missing", "2.ckt"),
         nothing_applied_past(1)),
    Case("2", "the last file missing, CHANGE.DONE there", _last_missing, 3, ("missing", "CHANGE.DONE"), converges),
    Case("2", "0.ckt a dangling symlink", dangling_first, 3, ("0.ckt", "link to nothing"), nothing_applied_past(0)),
    Case("3", "0.ckt cut to 5 lines", truncated, 3, ("0.ckt", "bytes where", "cut short"), converges),
    Case("4", "demo --dir over a user's directory", demo_into_precious, 2, ("precious", "not a demo run's"),
         thesis_kept),
    Case("4", "demo --dir . in a run directory that is not a demo's", demo_into_cwd, 2, ("not a demo run's",),
         cwd_kept),
    Case("12", "demo --rows -5", lambda d: ts(d, "demo", "--dir", "fresh", "--rows", "-5"), 2, ("--rows",),
         lambda d: None),
    Case("13", "demo --dir a file", lambda d: ts(d, "demo", "--dir", "sync.cfg", "--rows", "5"), 2,
         ("sync.cfg", "is a file"), cwd_kept),
]


@pytest.fixture
def run_dir(tmp_path) -> Path:
    d = tmp_path / "D"
    write_run_dir(d, 2000)
    (d / ".targetsync-demo").unlink()   # a user's run directory now, not a demo's to replace
    return d


@pytest.mark.parametrize("case", CASES, ids=[f"{c.item}-{c.name}" for c in CASES])
def test_hostile_input(run_dir, case):
    r = case.run(run_dir)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("targetsync:") or "Traceback" in ln]
    RESULTS.append((case.item, case.name, r.returncode, lines[-1] if lines else ""))
    assert r.returncode == case.code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and len(lines) == 1, r.stderr
    for n in case.needles:
        assert n in lines[0], (n, lines[0])
    case.check(run_dir)
