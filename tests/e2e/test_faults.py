"""Faults around the emit directory (issue 6): a second emitter on the same directory,
a directory that cannot be created, and one that fills up mid-emit (a file-size limit).
Each ends in one clear line; a resumed run then finishes, every difference emitted once."""
from __future__ import annotations

import random
import resource
import subprocess
import sys
import time

from targetsync_core.emit import files as F
from targetsync_core.emit.emitter import EmitSettings
from targetsync_core.errors import LeaseHeld
from targetsync_core import commands
from targetsync_core.model import skt
from tests.e2e.test_bad_input import one_line_error
from tests.e2e.test_crash import dataset
from tests.e2e.test_random_sync import assert_equal_sides, records_by_key
from tests.helpers import ROOT, ckt_records, cli


def emitter(tmp_path, tables, src, tgt):
    settings = EmitSettings(window_size=5, max_threads=2, file_target_bytes=2000, output_dir=tmp_path / "emit",
                            checkpoint_dir=tmp_path / "checkpoint")
    return commands.make_emitter(src, tgt, [t.qualified for t in tables], skt.read(tmp_path / "schema.skt"), {},
                                 settings)


def assert_emitted_once(tmp_path, tables, expected):
    seen = records_by_key(tables, ckt_records(tmp_path / "emit"))
    assert not {k: v for k, v in seen.items() if len(v) > 1}, "a difference was emitted twice"
    assert seen == {(name, k): [op] for name, ch in expected.items() for k, op in ch.items()}


def test_a_second_emitter_on_one_directory_is_refused(tmp_path):
    tables, src, tgt, expected = dataset(tmp_path, 21, rows=200)
    first = emitter(tmp_path, tables, src, tgt)
    first.prepare()
    second = emitter(tmp_path, tables, src, tgt)
    try:
        second.prepare()
        raise AssertionError("the second emitter took a directory in use")
    except LeaseHeld as exc:
        assert str(tmp_path / "emit") in str(exc) and "another emitter" in str(exc)
    # the command line says the same in one line, exit 3, and touches nothing
    before = sorted(p.name for p in (tmp_path / "emit").iterdir())
    one_line_error(cli("emit", "--config", str(tmp_path / "emit.cfg"), cwd=tmp_path), 3, "in use by another emitter")
    assert sorted(p.name for p in (tmp_path / "emit").iterdir()) == before
    first.run()
    assert_emitted_once(tmp_path, tables, expected)
    again = emitter(tmp_path, tables, src, tgt)  # released when the run ended
    again.prepare()
    again.close()


def test_an_emit_directory_that_cannot_be_made_is_one_line(tmp_path):
    dataset(tmp_path, 22, rows=50)
    (tmp_path / "blocker").write_text("a file, not a directory\n")
    one_line_error(cli("emit", "--config", str(tmp_path / "emit.cfg"), "--emitOutputDirectory", "blocker/emit",
                       cwd=tmp_path), 3, "emit directory", "blocker")


def limited(max_bytes: int):
    def set_limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return set_limit


def test_a_full_emit_directory_stops_cleanly_and_a_resumed_run_finishes(tmp_path):
    tables, src, tgt, expected = dataset(tmp_path, 23, rows=600)
    rng = random.Random(23)
    stops = 0
    for limit in sorted(rng.sample(range(1500, 12000), 4)):  # files of ~2 kB: fails part-way
        p = subprocess.run([sys.executable, "-m", "targetsync_core.cli", "emit", "--config", "emit.cfg"],
                           cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                                "PYTHONDONTWRITEBYTECODE": "1"},  # no truncated .pyc
                           capture_output=True, text=True, timeout=120, preexec_fn=limited(limit))
        if p.returncode == 0:
            continue
        stops += 1  # the log goes to stderr too; the error is its one "targetsync:" line
        assert p.returncode == 3 and "Traceback" not in p.stderr, p.stderr
        (line,) = [ln for ln in p.stderr.splitlines() if ln.startswith("targetsync:")]
        assert "cannot write the emit directory" in line and "File too large" in line, line
    assert stops >= 2
    assert cli("emit", "--config", "emit.cfg", cwd=tmp_path).returncode == 0
    assert (tmp_path / "emit" / F.DONE).exists()
    assert_emitted_once(tmp_path, tables, expected)
    assert cli("apply", "--config", "apply.cfg", cwd=tmp_path).returncode == 0
    assert_equal_sides(tables, src, tgt)


def test_a_target_table_altered_between_emit_and_apply_stops_the_loader_cleanly(tmp_path):
    """A column dropped from the target after emit: apply stops on one line naming the
    table before applying a file; once the column is back, apply finishes exactly once."""
    import sqlite3
    tables, src, tgt, expected = dataset(tmp_path, 24, rows=300)
    assert cli("emit", "--config", "emit.cfg", cwd=tmp_path).returncode == 0
    t = tables[0]
    victim = next(c for c in t.columns if c.name not in t.primary_key)
    conn = sqlite3.connect(tmp_path / "target.db")
    conn.execute(f'ALTER TABLE "{t.name}" RENAME COLUMN "{victim.name}" TO "gone"')
    conn.commit()
    r = cli("apply", "--config", "apply.cfg", cwd=tmp_path)
    assert r.returncode in (2, 3) and "Traceback" not in r.stderr, r.stderr
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("targetsync:")]
    assert t.name in line, line
    assert not F.ckt_numbers(tmp_path / "done") if (tmp_path / "done").exists() else True
    conn.execute(f'ALTER TABLE "{t.name}" RENAME COLUMN "gone" TO "{victim.name}"')
    conn.commit()
    conn.close()
    assert cli("apply", "--config", "apply.cfg", cwd=tmp_path).returncode == 0
    assert_equal_sides(tables, src, tgt)


def emit_files(directory) -> dict:
    """The emit directory's contents, without its lock files."""
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.name not in (F.LOCK, F.LOAD_LOCK)}


def test_a_fresh_emit_or_a_second_loader_is_refused_while_a_loader_applies_the_directory(tmp_path):
    """A loader holds the emit directory's load.lock while it applies a run. A fresh emit
    (resume=false) would take that run's files away, and a second loader (to another
    target) would apply them twice: both are refused on one line naming the directory and
    touch nothing; the loader then finishes and a fresh emit is allowed again."""
    from targetsync_core.load.loader import LoadSettings, Loader
    from tests.e2e.test_crash import start
    from tests.helpers import create_db, read_all
    tables, src, tgt, expected = dataset(tmp_path, 25, rows=300)
    assert cli("emit", "--config", "emit.cfg", cwd=tmp_path).returncode == 0
    flag, go = tmp_path / "paused", tmp_path / "go"
    loader = start("apply", tmp_path / "apply.cfg", pause_at="load.before_commit:2:120", pause_flag=flag,
                   pause_until=go)
    try:
        while loader.poll() is None and not flag.exists():
            time.sleep(0.01)
        assert flag.exists(), loader.communicate()[1]
        before = emit_files(tmp_path / "emit")
        (tmp_path / "fresh.cfg").write_text((tmp_path / "emit.cfg").read_text().replace("resume=true", "resume=false"))
        one_line_error(cli("emit", "--config", "fresh.cfg", cwd=tmp_path), 3, "being applied by a loader",
                       str(tmp_path / "emit"), f"pid {loader.pid}")
        assert emit_files(tmp_path / "emit") == before
        other = create_db(tmp_path / "other.db", tables)
        second = Loader(other, skt.read(tmp_path / "schema.skt"),
                        LoadSettings(tmp_path / "emit", tmp_path / "done2", lock_wait=0.2))
        try:
            second.run()
            raise AssertionError("a second loader applied a directory in use")
        except LeaseHeld as exc:
            assert "another loader" in str(exc) and f"pid {loader.pid}" in str(exc)
        assert emit_files(tmp_path / "emit") == before
        assert all(not read_all(other, t) for t in tables), "the second loader applied something"
    finally:
        go.touch()
    _, err = loader.communicate(timeout=120)
    assert loader.returncode == 0, err
    assert_equal_sides(tables, src, tgt)
    assert cli("emit", "--config", "fresh.cfg", cwd=tmp_path).returncode == 0
