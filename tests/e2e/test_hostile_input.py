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
    stream: str = "stderr"                      # where the line is: an error's, or a summary's (stdout)


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
    Case("13", "demo --dir where nothing can be written", lambda d: ts(d, "demo", "--dir", "/proc/targetsync", "--rows", "5"),
         3, ("/proc/targetsync", "cannot write"), cwd_kept),
    Case("13", "demo --dir a file", lambda d: ts(d, "demo", "--dir", "sync.cfg", "--rows", "5"), 2,
         ("sync.cfg", "is a file"), cwd_kept),
]


# ---- 5. secrets in a DSN that does not parse -------------------------------------------------

def dsn(text: str) -> Callable:
    def run(d: Path):
        (d / "source.dsn").write_text(text + "\n")
        return ts(d, "validate", "--config", "emit.cfg")
    return run


def no_secret(d: Path) -> None:
    assert "S3cretTail" not in "".join(r[3] for r in RESULTS)


# ---- 7. apply waiting on nothing ------------------------------------------------------------

def apply_from(where: str, prepare: Callable[[Path], None] = lambda p: None, *flags: str) -> Callable:
    def run(d: Path):
        prepare(d / where)
        return ts(d, "apply", "--config", "apply.cfg", "--inputDirectory", where, *flags, timeout=60)
    return run


def empty_dir(p: Path) -> None:
    p.mkdir()


def garbage_run(p: Path) -> None:
    p.mkdir()
    (p / F.RUN).write_text("garbage\n")


# ---- 11. values the .skt columns cannot hold, in hand-written change files ------------------

def b64(text: str) -> str:
    import base64
    return base64.b64encode(text.encode()).decode()


def customer(name: str = "n", balance: str = "1.00", score: str = "1.5") -> str:
    return f"I\tmain.customers\t99999\t{b64(name)}\t\\N\t{balance}\t1\t2024-01-01 00:00:00\t{score}\t\n"


def hand_written(*lines: str) -> Callable:
    def run(d: Path):
        e = d / "emit"
        e.mkdir()
        F.new_run(e)
        (e / "0.ckt").write_text("".join(lines), newline="")
        F.write_done(e)
        return ts(d, "apply", "--config", "apply.cfg")
    return run


def untouched(d: Path) -> None:
    conn = sqlite3.connect(d / "target.db")
    assert conn.execute("SELECT count(*) FROM customers WHERE id = 99999").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM tags WHERE tag = 'zz'").fetchone() == (0,)
    conn.close()
    assert (d / "emit" / "0.ckt").exists()


def skt_length(d: Path):
    import json
    doc = json.loads((d / "schema.skt").read_text())
    for c in doc["tables"][0]["columns"]:
        if c["name"] == "name":
            c["length"] = 5
    (d / "schema.skt").write_text(json.dumps(doc))
    return ts(d, "emit", "--config", "emit.cfg")


# ---- 12. settings that are slips ----------------------------------------------------------------

def setting(*flags: str, command: str = "emit", cfg: str = "emit.cfg") -> Callable:
    return lambda d: ts(d, command, "--config", cfg, *flags)


def config_line(line: str, command: str = "emit", cfg: str = "emit.cfg") -> Callable:
    def run(d: Path):
        (d / cfg).write_text((d / cfg).read_text() + line + "\n")
        return ts(d, command, "--config", cfg)
    return run


def no_emit(d: Path) -> None:
    assert not (d / "emit").exists() or not F.ckt_numbers(d / "emit")


def skt_twice(d: Path):
    import json
    doc = json.loads((d / "schema.skt").read_text())
    doc["tables"].append(doc["tables"][0])
    (d / "schema.skt").write_text(json.dumps(doc))
    return ts(d, "validate", "--config", "emit.cfg")


def tab_table(d: Path):
    (d / "tables.txt").write_text("main.a\tb\n")
    return ts(d, "schema", "--config", "schema.cfg", "--apply")


def update_of_a_lost_row(d: Path):
    r = ts(d, "emit", "--config", "emit.cfg")
    assert r.returncode == 0, r.stderr
    ids = [ln.split("\t")[2] for ln in (d / "emit" / "0.ckt").read_text().splitlines()
           if ln.startswith("U\tmain.customers")][:2]
    conn = sqlite3.connect(d / "target.db")
    conn.execute(f"DELETE FROM customers WHERE id IN ({', '.join(ids)})")
    conn.commit()
    conn.close()
    return ts(d, "apply", "--config", "apply.cfg")


# ---- 13. what ended as "unexpected X" --------------------------------------------------------

def deep_skt(d: Path):
    (d / "deep.skt").write_text("[" * 200_000)
    return ts(d, "validate", "--config", "emit.cfg", "--schemaFile", "deep.skt")


def ckt_directory(d: Path):
    emitted(d)
    (d / "emit" / "0.ckt").unlink()
    (d / "emit" / "0.ckt").mkdir()
    return ts(d, "apply", "--config", "apply.cfg")


def corrupt_sidecar(d: Path):
    crashed_emit(d, 100)
    last = max(F.hw_numbers(d / "emit"))
    (d / "emit" / f"{last}.ckt.hw").write_text("{garbage")
    return ts(d, "emit", "--config", "emit.cfg", "--resume", "true", "--windowSize", "100")


def done_full_after_commit(d: Path):
    """The done directory fills up after the file's commit: run in this process, the
    move made to fail as a full disk does."""
    import contextlib
    import errno
    import io
    import subprocess
    from unittest import mock

    from targetsync_core.cli import main
    from targetsync_core.load import loader
    emitted(d)
    err = io.StringIO()

    def full(src, done_dir):
        raise OSError(errno.ENOSPC, "No space left on device")
    cwd = os.getcwd()
    try:
        os.chdir(d)
        with mock.patch.object(loader, "_move", full), contextlib.redirect_stderr(err):
            code = main(["apply", "--config", "apply.cfg"])
    finally:
        os.chdir(cwd)
    return subprocess.CompletedProcess([], code, "", err.getvalue())


def applied_once_then_moved(d: Path) -> None:
    r = ts(d, "apply", "--config", "apply.cfg")
    assert r.returncode == 0, r.stderr
    assert ts(d, "validate", "--config", "emit.cfg").returncode == 0


def skt_null_column(d: Path):
    import json
    doc = json.loads((d / "schema.skt").read_text())
    doc["tables"][0]["columns"][1] = None
    (d / "schema.skt").write_text(json.dumps(doc))
    return ts(d, "validate", "--config", "emit.cfg")


def a_view(d: Path):
    conn = sqlite3.connect(d / "source.db")
    conn.execute("CREATE VIEW recent AS SELECT * FROM customers")
    conn.close()
    (d / "tables.txt").write_text("main.recent\n")
    return ts(d, "schema", "--config", "schema.cfg", "--schemaFile", "view.skt")


def bom(d: Path):
    (d / "bom.cfg").write_bytes(b"\xef\xbb\xbf" + (d / "emit.cfg").read_bytes())
    return ts(d, "validate", "--config", "bom.cfg")


CASES += [
    Case("5", "a password holding '/' (PostgreSQL)", dsn("postgresql://root:12345/S3cretTail@127.0.0.1:5432/db"),
         2, ("source.dsn", "percent-encode"), no_secret),
    Case("5", "a password holding '/' (MySQL)", dsn("mysql://root:3306/S3cretTail@127.0.0.1/db"), 2,
         ("source.dsn", "percent-encode"), no_secret),
    Case("5", "a password holding '#'", dsn("mysql://root:S3cretTail#x@127.0.0.1/db"), 2, ("source.dsn",), no_secret),
    Case("7", "apply from a directory that does not exist", apply_from("emitt"), 2, ("inputDirectory", "emitt")),
    Case("7", "apply from an empty directory, waitSeconds=1", apply_from("empty", empty_dir, "--waitSeconds", "1"), 3,
         ("waited 1 s", "empty", "waitSeconds")),
    Case("7", "apply from a directory whose run file is garbage", apply_from("junk", garbage_run), 3,
         ("targetsync.run", "not a run file")),
    Case("11", "12345678901234.00 into decimal(12,2)", hand_written(customer(balance="12345678901234.00")), 3,
         ("0.ckt:1", "balance", "10 digit"), untouched),
    Case("11", "base64 of {not json into a JSON column",
         hand_written(f"I\tmain.tags\t{b64('zz')}\t\\N\t{b64('{not json')}\t\n"), 3, ("0.ckt:1", "info", "JSON"), untouched),
    Case("11", "1e999 into a double", hand_written(customer(score="1e999")), 3, ("0.ckt:1", "score", "beyond"),
         untouched),
    Case("11", "300 characters into varchar(80)", hand_written(customer(name="x" * 300)), 3,
         ("0.ckt:1", "name", "300 characters"), untouched),
    Case("11", "a .skt length 5 for a live VARCHAR(80)", skt_length, 2, ("main.customers.name", "80", "5"), no_emit),
    Case("12", "a key set twice in a config file", config_line("windowSize=50"), 2, ("windowSize", "twice")),
    Case("12", "windowSize=1_000", setting("--windowSize", "1_000"), 2, ("windowSize", "1_000")),
    Case("12", "schemaRename=a:b:c", setting("--schemaRename", "a:b:c"), 2, ("schemaRename", "a:b:c")),
    Case("12", "schemaRename=main:x,main:y", setting("--schemaRename", "main:x,main:y"), 2, ("schemaRename", "twice")),
    Case("12", "emitFileTargetMB=1e-9", setting("--emitFileTargetMB", "1e-9"), 2, ("emitFileTargetMB", "at least"),
         no_emit),
    Case("12", "emitFileTargetMB=inf", setting("--emitFileTargetMB", "inf"), 2, ("emitFileTargetMB", "inf"), no_emit),
    Case("12", "floatTolerance=inf", setting("--floatTolerance", "inf"), 2, ("floatTolerance", "inf")),
    Case("12", "maxThreads=200", setting("--maxThreads", "200"), 2, ("maxThreads", "at most 64")),
    Case("12", "a .skt listing a table twice", skt_twice, 2, ("main.customers", "twice")),
    Case("12", "a table name with a TAB, schema --apply", tab_table, 2, ("a\\tb", "control character")),
    Case("12", "a U record for a row the target lost", update_of_a_lost_row, 0, ("2 update(s) found no row",),
         converges, stream="stdout"),
    Case("13", "logFile a directory", setting("--logFile", "/tmp"), 2, ("logFile", "Is a directory")),
    Case("13", "logFile a 5000-character name", setting("--logFile", "x" * 5000), 2, ("logFile", "too long")),
    Case("13", "a .skt of 200,000 [", deep_skt, 2, ("deep.skt", "nested too deeply")),
    Case("13", "0.ckt a directory", ckt_directory, 3, ("0.ckt", "not a file")),
    Case("13", "a corrupt N.ckt.hw on resume", corrupt_sidecar, 2, (".ckt.hw", "not a sidecar")),
    Case("13", "done/ full after the commit", done_full_after_commit, 3, ("was applied", "No space left"),
         applied_once_then_moved),
    Case("13", "a null column in the .skt", skt_null_column, 2, ("column 1", "not null")),
    Case("13", "a view in the table list", a_view, 2, ("main.recent", "is a view")),
    Case("13", "checkpointDir a file", setting("--checkpointDir", "sync.cfg"), 3, ("checkpoint directory",
                                                                                    "sync.cfg")),
    Case("13", "a byte-order mark before the first key", bom, 1, ("difference",), stream="stdout"),
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
    if case.stream == "stdout":   # not an error: the summary line says what happened
        lines = [ln for ln in r.stdout.splitlines() if ln.strip()][-1:]
    else:
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith("targetsync:") or "Traceback" in ln]
    RESULTS.append((case.item, case.name, r.returncode, lines[-1] if lines else ""))
    assert r.returncode == case.code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and len(lines) == 1, r.stderr
    for n in case.needles:
        assert n in lines[0], (n, lines[0])
    case.check(run_dir)
