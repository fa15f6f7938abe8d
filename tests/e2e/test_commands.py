"""The schema command end to end, SQLite's integer limit, logFile, the progress bar and
the emit log lines."""
import io
import sqlite3
import threading

from targetsync_core.adapters.sqlite import SqliteDatabase

from targetsync_core.emit import files as F
from targetsync_core.model import skt
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from targetsync_core.progress import Progress
from tests.helpers import VALUE_COLUMNS, canon_row, cli, create_db, read_all, write_run

WIDE = Table("main", "wide", (Column("id", Kind.INT64, False), *VALUE_COLUMNS), ("id",))


def test_schema_apply_then_sync_into_an_empty_target(tmp_path):
    import random
    from tests.helpers import random_row
    rng = random.Random(5)
    rows = [random_row(rng, WIDE, (i,)) for i in range(50)]
    src = create_db(tmp_path / "source.db", [WIDE], {"wide": rows})
    sqlite3.connect(tmp_path / "target.db").close()
    write_run(tmp_path, [WIDE])
    (tmp_path / "schema.skt").unlink()
    (tmp_path / "schema.cfg").write_text("sourceType=sqlite\nsourceDsnFile=source.dsn\ntargetType=sqlite\n"
                                         "targetDsnFile=target.dsn\ntableFile=tables.txt\nschemaFile=schema.skt\n"
                                         "outputDirectory=ddl\n")
    r = cli("schema", "--config", str(tmp_path / "schema.cfg"), "--apply")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "ddl").iterdir()) == ["c.sql", "d.sql", "f.sql", "i.sql"]
    (extracted,) = skt.read(tmp_path / "schema.skt")
    assert [(c.name, c.kind, c.length, c.precision, c.scale) for c in extracted.columns] == \
        [(c.name, c.kind, c.length, c.precision if c.kind is not Kind.TIME else 6, c.scale) for c in WIDE.columns]
    r = cli("sync", "--config", str(tmp_path / "sync.cfg"), "--logFile", str(tmp_path / "sync.log"))
    assert r.returncode == 0, r.stderr
    tgt = type(src)(str(tmp_path / "target.db"))
    assert [canon_row(WIDE, x) for x in read_all(src, WIDE)] == [canon_row(WIDE, x) for x in read_all(tgt, WIDE)]
    log = (tmp_path / "sync.log").read_text()
    assert "target-sync emit complete: " in log and "+ CHANGE.DONE" in log and "CHANGE.DONE - exiting" in log


def test_uint64_above_sqlite_range_is_refused_naming_the_column(tmp_path):
    t = Table("main", "u", (Column("id", Kind.INT64, False), Column("big", Kind.UINT64)), ("id",))
    create_db(tmp_path / "source.db", [t])
    create_db(tmp_path / "target.db", [t])
    write_run(tmp_path, [t])
    (tmp_path / "emit").mkdir()
    F.new_run(tmp_path / "emit")
    (tmp_path / "emit" / "0.ckt").write_text(f"I\tmain.u\t1\t{2**64 - 1}\t\n", newline="")
    F.write_done(tmp_path / "emit")
    r = cli("apply", "--config", str(tmp_path / "apply.cfg"))
    assert r.returncode == 3 and "main.u" in r.stderr and "column big" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_emit_logs_structured_lines_and_the_closing_line(tmp_path):
    t = Table("main", "x", (Column("id", Kind.INT32, False), Column("v", Kind.TEXT)), ("id",))
    create_db(tmp_path / "source.db", [t], {"x": [(i, str(i)) for i in range(30)]})
    create_db(tmp_path / "target.db", [t])
    write_run(tmp_path, [t])
    r = cli("emit", "--config", str(tmp_path / "emit.cfg"))
    assert r.returncode == 0
    assert "INFO targetsync.emit published 0.ckt records=" in r.stderr
    assert "target-sync emit complete: 1 CKT file(s) (30 records" in r.stderr and r.stderr.rstrip().endswith(
        "+ CHANGE.DONE")
    assert "x  " in r.stdout or "main.x" in r.stdout


def test_bad_skt_is_one_clear_line(tmp_path):
    t = Table("main", "x", (Column("id", Kind.INT32, False),), ("id",))
    create_db(tmp_path / "source.db", [t])
    create_db(tmp_path / "target.db", [t])
    write_run(tmp_path, [t])
    (tmp_path / "schema.skt").write_text('{"format": "targetsync-schema", "version": 1, "tables": [{"schema": '
                                         '"main", "name": "x", "columns": [{"name": "id", "type": "int99"}]}]}')
    r = cli("validate", "--config", str(tmp_path / "emit.cfg"))
    assert r.returncode == 2 and "int99" in r.stderr and "schema.skt" in r.stderr and "Traceback" not in r.stderr


def test_progress_bar_draws_on_a_terminal_only():
    out = io.StringIO()
    p = Progress("emit", stream=out, enabled=True)
    p.add_total(4)
    p.advance(4, changes=12)
    p.close()
    assert "emit [" in out.getvalue() and "4/4" in out.getvalue() and "changes=12" in out.getvalue()
    quiet = io.StringIO()
    Progress("emit", stream=quiet).advance(1)  # a StringIO is not a terminal
    assert quiet.getvalue() == ""


def test_sync_stops_the_emitter_when_the_loader_fails(tmp_path, monkeypatch):
    """A loader failure ends sync with the loader's error and the emitter stopped, not
    left running to fill the emit directory."""
    from targetsync_core import commands
    from targetsync_core.cli import main
    from targetsync_core.errors import DataError
    from targetsync_core.load import loader as L
    t = Table("main", "x", (Column("id", Kind.INT32, False), Column("v", Kind.TEXT)), ("id",))
    create_db(tmp_path / "source.db", [t], {"x": [(i, str(i)) for i in range(400)]})
    create_db(tmp_path / "target.db", [t])
    write_run(tmp_path, [t], windowSize=1, maxThreads=1, emitFileTargetMB=0.00001)
    seen = {}
    real_build = commands.build_emitter

    def spy(*a, **k):
        seen["emitter"] = real_build(*a, **k)
        return seen["emitter"]

    failed = threading.Event()
    real_read = SqliteDatabase.read_window

    def held(self, table, window):
        if window.index >= 5:  # later windows wait until the loader has failed
            failed.wait(30)
        return real_read(self, table, window)

    def boom(*a, **k):
        failed.set()
        raise DataError("injected apply failure")

    monkeypatch.setattr(commands, "build_emitter", spy)
    monkeypatch.setattr(L, "read_batches", boom)
    monkeypatch.setattr(SqliteDatabase, "read_window", held)
    assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 3
    assert seen["emitter"]._cancel.is_set()
    assert not (tmp_path / "emit" / F.DONE).exists()


def test_fresh_run_clears_stale_output_and_resume_after_completion_adds_nothing(tmp_path):
    from targetsync_core.cli import main
    t = Table("main", "x", (Column("id", Kind.INT32, False), Column("v", Kind.TEXT)), ("id",))
    create_db(tmp_path / "source.db", [t], {"x": [(i, str(i)) for i in range(20)]})
    create_db(tmp_path / "target.db", [t])
    write_run(tmp_path, [t], resume="true")
    emit = tmp_path / "emit"
    emit.mkdir()
    for stale in ("0.ckt", "7.ckt", "7.ckt.hw", F.DONE, "part_0_3.part", F.BUILDING, "notes.txt"):
        (emit / stale).write_text("stale")
    (tmp_path / "fresh.cfg").write_text((tmp_path / "emit.cfg").read_text().replace("resume=true", "resume=false"))
    assert main(["emit", "--config", str(tmp_path / "fresh.cfg")]) == 0
    names = sorted(p.name for p in emit.iterdir())
    assert names == sorted(["0.ckt", "0.ckt.hw", F.DONE, F.LOCK, F.LOAD_LOCK, "notes.txt", F.RUN])
    assert "stale" not in (emit / "0.ckt").read_text()
    before = {p.name: p.read_bytes() for p in emit.iterdir() if p.name not in (F.LOCK, F.LOAD_LOCK)}
    assert main(["emit", "--config", str(tmp_path / "emit.cfg")]) == 0   # resume=true: already complete
    assert {p.name: p.read_bytes() for p in emit.iterdir() if p.name not in (F.LOCK, F.LOAD_LOCK)} == before
