"""Randomised end to end on SQLite (issue 2, done-when 1, 2 and 4).

Random schemas (composite keys, every canonical type, NULLs and nasty values), random
drift (inserts, updates, deletes, target rows below and above the source's key range),
random windowSize (including 1), maxThreads 1–8 and a tiny emitFileTargetMB: emit then
apply makes the target equal to the source — checked by reading both sides afresh and
comparing with the test's own notion of equality — every difference is in exactly one
record, files are gapless, CHANGE.DONE comes last, validate then finds nothing.
"""
import random
import shutil
import sqlite3

import pytest

from targetsync_core.cli import main
from targetsync_core.emit import files as F
from targetsync_core.codec.ckt import TableCodec, split_line
from tests.helpers import (canon_row, ckt_records, create_db, expected_changes, make_pair, random_table,
                           read_all, write_run)


def build(tmp_path, seed: int, **cfg):
    rng = random.Random(seed)
    tables = [random_table(rng, f"t{i}") for i in range(rng.randint(1, 3))]
    pairs = {t.name: make_pair(rng, t, rng.choice([0, 1, 5, 40, 120])) for t in tables}
    src = create_db(tmp_path / "source.db", tables, {n: p[0] for n, p in pairs.items()})
    tgt = create_db(tmp_path / "target.db", tables, {n: p[1] for n, p in pairs.items()})
    settings = {"windowSize": rng.choice([1, 2, 3, 7, 50]), "maxThreads": rng.randint(1, 8),
                "emitFileTargetMB": rng.choice([0.0005, 0.001, 0.01])}
    settings.update(cfg)
    write_run(tmp_path, tables, **settings)
    expected = {t.name: expected_changes(t, *pairs[t.name]) for t in tables}
    return tables, src, tgt, expected


def records_by_key(tables, lines):
    codecs = {t.qualified: TableCodec(t) for t in tables}
    seen = {}
    for n, line in lines:
        op, name, fields = split_line(line, ("ckt", n))
        ch = codecs[name].decode_fields(op, fields, ("ckt", n))
        seen.setdefault((name.split(".")[1], ch.key), []).append(op)
    return seen


def assert_equal_sides(tables, src, tgt):
    for t in tables:
        a = [canon_row(t, r) for r in read_all(src, t)]
        b = [canon_row(t, r) for r in read_all(tgt, t)]
        assert a == b, f"table {t.name} differs after sync"


@pytest.mark.parametrize("seed", range(24))
def test_emit_apply_converges(tmp_path, seed, capsys):
    tables, src, tgt, expected = build(tmp_path, seed)
    assert main(["emit", "--config", str(tmp_path / "emit.cfg")]) == 0
    emit_dir = tmp_path / "emit"
    names = sorted(p.name for p in emit_dir.iterdir())
    assert F.DONE in names and not any(n.startswith("part_") or n == F.BUILDING for n in names)
    numbers = F.ckt_numbers(emit_dir)
    assert numbers == list(range(len(numbers))), "N.ckt numbering must be gapless from 0"
    assert F.hw_numbers(emit_dir) == numbers
    # every difference in exactly one record, nothing else
    seen = records_by_key(tables, ckt_records(emit_dir))
    want = {(name, k): [op] for name, ch in expected.items() for k, op in ch.items()}
    assert seen == want
    assert main(["apply", "--config", str(tmp_path / "apply.cfg")]) == 0
    assert F.ckt_numbers(tmp_path / "done") == numbers and not F.ckt_numbers(emit_dir)
    assert_equal_sides(tables, src, tgt)
    capsys.readouterr()
    assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0
    assert "validate: 0 difference(s)" in capsys.readouterr().out


@pytest.mark.parametrize("seed", [100, 101, 102, 103])
def test_sync_equals_emit_then_apply_and_replay_is_a_no_op(tmp_path, seed):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    tables, src, tgt_a, _ = build(a, seed)
    shutil.copy(a / "source.db", b / "source.db")
    shutil.copy(a / "target.db", b / "target.db")
    write_run(b, tables, windowSize=3, maxThreads=3)
    assert main(["emit", "--config", str(a / "emit.cfg")]) == 0
    assert main(["apply", "--config", str(a / "apply.cfg")]) == 0
    assert main(["sync", "--config", str(b / "sync.cfg")]) == 0
    tgt_b = type(tgt_a)(str(b / "target.db"))
    for t in tables:
        assert [canon_row(t, r) for r in read_all(tgt_a, t)] == [canon_row(t, r) for r in read_all(tgt_b, t)]
    # replay every applied file as a new run: the target must not change
    dump = lambda: list(sqlite3.connect(a / "target.db").iterdump())  # noqa: E731
    before = [ln for ln in dump() if "_targetsync" not in ln]
    replay = a / "replay"
    replay.mkdir()
    for p in (a / "done").glob("*.ckt"):
        shutil.copy(p, replay / p.name)
    F.new_run(replay)
    F.write_done(replay)
    assert main(["apply", "--config", str(a / "apply.cfg"), "--inputDirectory", str(replay),
                 "--doneDirectory", str(a / "done2")]) == 0
    assert [ln for ln in dump() if "_targetsync" not in ln] == before


def test_change_done_is_written_once_after_the_last_file(tmp_path, monkeypatch):
    tables, *_ = build(tmp_path, 7, emitFileTargetMB=0.0005)
    events = []
    real_publish, real_done = F.publish, F.write_done
    monkeypatch.setattr(F, "publish", lambda d, b, hw: (events.append(("file", hw.file)), real_publish(d, b, hw))[1])
    monkeypatch.setattr(F, "write_done", lambda d: (events.append(("done", (d / F.DONE).exists())), real_done(d))[1])
    assert main(["emit", "--config", str(tmp_path / "emit.cfg")]) == 0
    assert events[-1] == ("done", False) and [e for e in events if e[0] == "done"] == [("done", False)]
    assert [n for kind, n in events[:-1]] == list(range(len(events) - 1))
