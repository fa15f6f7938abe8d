"""Crash safety (issue 2, done-when 3).

The emitter and the loader run as real processes and are SIGKILLed — at named points
(between a file's .hw sidecar and its rename, right after a publish, just before and
just after a loader commit) and at random moments — then restarted until they finish.
Every difference must land in exactly one published file, and no file may be applied
twice: a trigger on the target counts every row write, which is not idempotent.
"""
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from targetsync_core.emit import files as F
from tests.e2e.test_random_sync import assert_equal_sides, records_by_key
from tests.helpers import ROOT, ckt_records, create_db, expected_changes, make_pair, random_table, write_run


def dataset(tmp_path, seed, rows=600):
    rng = random.Random(seed)
    tables = [random_table(rng, f"t{i}") for i in range(2)]
    pairs = {t.name: make_pair(rng, t, rows, drift=0.4) for t in tables}
    src = create_db(tmp_path / "source.db", tables, {n: p[0] for n, p in pairs.items()})
    tgt = create_db(tmp_path / "target.db", tables, {n: p[1] for n, p in pairs.items()})
    write_run(tmp_path, tables, windowSize=5, maxThreads=3, emitFileTargetMB=0.002, resume="true")
    expected = {t.name: expected_changes(t, *pairs[t.name]) for t in tables}
    return tables, src, tgt, expected


def start(cmd: str, cfg, crash_at: str | None = None, pause_at: str | None = None,
          pause_flag=None, pause_until=None) -> subprocess.Popen:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "PYTHONFAULTHANDLER": "1",
           # a translated-tier target's twin (tests/conformance/translated.py) serves it here too
           **{k: v for k, v in os.environ.items() if k.startswith("TARGETSYNC_ADAPTER_")}}
    if crash_at:
        env["TARGETSYNC_CRASH_AT"] = crash_at
    if pause_at:
        env["TARGETSYNC_PAUSE_AT"] = pause_at
    if pause_flag:
        env["TARGETSYNC_PAUSE_FLAG"] = str(pause_flag)
    if pause_until:
        env["TARGETSYNC_PAUSE_UNTIL"] = str(pause_until)
    return subprocess.Popen([sys.executable, "-m", "targetsync_core.cli", cmd, "--config", str(cfg)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_if_running(p: subprocess.Popen, stats: dict) -> None:
    """SIGKILL ``p`` unless it has already finished (successfully), and count the kill."""
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        stats["random_kills"] += 1
    _, err = p.communicate(timeout=300)
    assert p.returncode in (0, -signal.SIGKILL), err


def run_with_kills(cmd: str, cfg, named: list[str], random_kills: int, rng) -> dict:
    """Kill at every named point, then at random moments, then let it finish."""
    stats = {"named_kills": 0, "random_kills": 0}
    for point in named:
        p = start(cmd, cfg, point)
        out, err = p.communicate(timeout=120)
        if p.returncode == 0:
            continue  # the point was never reached (already past it)
        assert p.returncode == -signal.SIGKILL, err
        stats["named_kills"] += 1
    for _ in range(random_kills):
        p = start(cmd, cfg)
        time.sleep(rng.uniform(0.15, 0.9))
        kill_if_running(p, stats)
    p = start(cmd, cfg)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return stats


@pytest.mark.parametrize("seed", [1, 2])
def test_emitter_killed_and_resumed_emits_every_difference_once(tmp_path, seed):
    tables, src, tgt, expected = dataset(tmp_path, seed)
    named = ["emit.after_hw:1", "emit.after_publish:2", "emit.after_hw:4", "emit.after_hw:2", "emit.after_publish:1"]
    stats = run_with_kills("emit", tmp_path / "emit.cfg", named, 5, random.Random(seed))
    assert stats["named_kills"] == len(named)
    emit_dir = tmp_path / "emit"
    numbers = F.ckt_numbers(emit_dir)
    assert numbers == list(range(len(numbers))) and len(numbers) > 20
    assert (emit_dir / F.DONE).exists()
    seen = records_by_key(tables, ckt_records(emit_dir))
    want = {(name, k): [op] for name, ch in expected.items() for k, op in ch.items()}
    duplicates = {k: v for k, v in seen.items() if len(v) > 1}
    assert not duplicates, f"{len(duplicates)} differences emitted more than once"
    assert seen == want
    p = start("apply", tmp_path / "apply.cfg")
    assert p.wait(120) == 0
    assert_equal_sides(tables, src, tgt)


COUNT_TRIGGERS = """
CREATE TABLE IF NOT EXISTS write_count (n INTEGER NOT NULL);
INSERT INTO write_count VALUES (0);
"""


def add_count_triggers(db_path, tables):
    conn = sqlite3.connect(db_path)
    conn.executescript(COUNT_TRIGGERS)
    for t in tables:
        for ev in ("INSERT", "UPDATE", "DELETE"):
            conn.execute(f'CREATE TRIGGER "count_{t.name}_{ev}" AFTER {ev} ON "{t.name}" '
                         "BEGIN UPDATE write_count SET n = n + 1; END")
    conn.commit()
    conn.close()


def write_count(db_path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT n FROM write_count").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("seed", [3, 4])
def test_loader_killed_and_restarted_applies_every_file_once(tmp_path, seed):
    tables, src, tgt, expected = dataset(tmp_path, seed, rows=900)
    p = start("emit", tmp_path / "emit.cfg")
    assert p.wait(120) == 0, p.stderr.read()
    total = sum(len(ch) for ch in expected.values())
    files = len(F.ckt_numbers(tmp_path / "emit"))
    assert files > 20
    add_count_triggers(tmp_path / "target.db", tables)
    named = ["load.before_commit:1", "load.after_commit:1", "load.after_commit:3", "load.before_commit:4",
             "load.after_commit:2"]
    stats = run_with_kills("apply", tmp_path / "apply.cfg", named, 5, random.Random(seed))
    assert stats["named_kills"] == len(named)
    # each record writes exactly one row once: a file applied twice would write more
    assert write_count(tmp_path / "target.db") == total
    assert F.ckt_numbers(tmp_path / "done") == list(range(files))
    assert not F.ckt_numbers(tmp_path / "emit")
    assert_equal_sides(tables, src, tgt)


def test_the_write_counter_would_see_a_double_apply(tmp_path):
    """The proof above is only as good as the counter: replaying applied files (as a new
    run, which bypasses the applied-file record) must raise the count."""
    tables, src, tgt, expected = dataset(tmp_path, 5, rows=200)
    assert start("emit", tmp_path / "emit.cfg").wait(120) == 0
    add_count_triggers(tmp_path / "target.db", tables)
    assert start("apply", tmp_path / "apply.cfg").wait(120) == 0
    once = write_count(tmp_path / "target.db")
    for p in (tmp_path / "done").glob("*.ckt"):
        p.rename(tmp_path / "emit" / p.name)
    F.new_run(tmp_path / "emit")
    assert start("apply", tmp_path / "apply.cfg").wait(120) == 0
    assert write_count(tmp_path / "target.db") > once
