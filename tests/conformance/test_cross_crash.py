"""The crash suite across engines (issue 6): PostgreSQL→MariaDB, MariaDB→PostgreSQL and
PostgreSQL→MongoDB, mixed drift, the emitter, the loader and ``sync`` each SIGKILLed at
named and random points and restarted until they finish. Every time the target ends
equal to the source and every difference is applied exactly once, counted on the target
by a trigger on row writes (MongoDB: by the loaders, in each write's transaction, see
``tests.conformance.mongodb_counted``), not inferred from idempotency.

CI runs a seeded handful of kills on 12k rows (into MongoDB an eighth of them:
secantusdb scans a whole collection for every ``_id`` range, so a run's reads grow with
the square of its rows). The manual run behind the figures in docs/RELIABILITY.md sets
``TARGETSYNC_CRASH_ROWS=300000 TARGETSYNC_CRASH_KILLS=40``.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import signal
import time
from decimal import Decimal

import pytest

from targetsync_core.emit import files as F
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS
from tests.conformance.test_conformance import write_cfg
from tests.conformance.test_server_crash import add_counter, count
from tests.e2e.test_crash import kill_if_running, start
from tests.e2e.test_random_sync import records_by_key
from tests.helpers import ckt_records, cli, expected_changes

ROWS = int(os.environ.get("TARGETSYNC_CRASH_ROWS", "12000"))
KILLS = int(os.environ.get("TARGETSYNC_CRASH_KILLS", "3"))
FEWER_ROWS = {"mongodb": 8}   # target type -> what ROWS is divided by for it (see above)
PAIRS = [("postgres", "mariadb"), ("mariadb", "postgres"), ("postgres", "mongodb")]
KILLED = {"points": 0}


def data(rng, n: int):
    t0 = 1_600_000_000
    src = [(i, f"v{i}", None if i % 7 == 0 else rng.randint(-10**6, 10**6) / 1000, t0 + i)
           for i in range(0, 2 * n, 2)]
    tgt = []
    for r in src:
        x = rng.random()
        if x < 0.03:
            continue                                             # missing: an insert
        if x < 0.08:
            r = (r[0], f"w{r[0]}", r[2], r[3] + 1)               # changed: an update
        tgt.append(r)
    tgt += [(2 * i + 1, "stray", None, t0) for i in rng.sample(range(n), n // 50)]  # target-only: deletes
    return src, sorted(tgt)


def typed(rows):
    return [(a, b, None if c is None else Decimal(str(c)), dt.datetime.fromtimestamp(d, dt.timezone.utc)
             .replace(tzinfo=None)) for a, b, c, d in rows]


def prepare(tmp_path, src, tgt, rng, monkeypatch, rows: int = ROWS):
    t = Table(src.schema, "items", (Column("id", Kind.INT64, False), Column("v", Kind.VARCHAR, length=30),
                                    Column("n", Kind.DECIMAL, precision=12, scale=3),
                                    Column("at", Kind.TIMESTAMP, precision=6)), ("id",))
    src.create([t])
    stamp, t_stamp = map(typed, data(rng, rows))
    src.insert(t, stamp)
    write_cfg(tmp_path, src, tgt)
    (tmp_path / "tables.txt").write_text(f"{src.schema}.items\n")
    for cfg in ("emit.cfg", "sync.cfg"):
        p = tmp_path / cfg
        p.write_text(p.read_text().replace("windowSize=50", f"windowSize={max(50, rows // 60)}")
                     .replace("emitFileTargetMB=0.02", "emitFileTargetMB=0.001") + "resume=true\n")
    assert cli("schema", "--config", str(tmp_path / "schema.cfg"), "--apply").returncode == 0
    tt = t.renamed(tgt.schema)
    tgt.insert(tt, t_stamp)
    add_counter(tgt, monkeypatch)
    return t, tt, expected_changes(t, stamp, t_stamp)


def kills(cmd, tmp_path, named, rng, watch: str):
    """The named points, then KILLS random ones, then a run to the end. A random point is
    a random number of files further on in ``watch`` (published or applied files) plus a
    random few milliseconds, so every kill lands mid-run whatever the machine's speed."""
    stats = {"named_kills": 0, "random_kills": 0}
    for point in named:
        p = start(cmd, tmp_path / f"{cmd}.cfg", point)
        _, err = p.communicate(timeout=300)
        assert p.returncode == -signal.SIGKILL, f"{point} was not reached: {err}"
        stats["named_kills"] += 1
    directory = tmp_path / watch
    for _ in range(KILLS):
        goal = len(F.ckt_numbers(directory)) + rng.randint(1, 3)
        p = start(cmd, tmp_path / f"{cmd}.cfg")
        while p.poll() is None and len(F.ckt_numbers(directory)) < goal:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.03))
        kill_if_running(p, stats)
    p = start(cmd, tmp_path / f"{cmd}.cfg")
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    assert stats["random_kills"] >= 1, "no random kill landed mid-run"
    KILLED["points"] += stats["named_kills"] + stats["random_kills"]
    print(f"{cmd}: {stats}; {KILLED['points']} point(s) killed so far")  # the manual run's figure
    return stats


@contextlib.contextmanager
def drifted(tmp_path, source_kind: str, target_kind: str, seed: int, monkeypatch, rows: int | None = None):
    rows = rows or ROWS // FEWER_ROWS.get(target_kind, 1)
    rng = random.Random(f"{source_kind}-{seed}")
    with BACKENDS[source_kind](tmp_path, "s") as src, BACKENDS[target_kind](tmp_path, "t") as tgt:
        yield (rng, src, tgt, *prepare(tmp_path, src, tgt, rng, monkeypatch, rows))


@pytest.mark.parametrize("source_kind,target_kind", PAIRS, ids=[f"{s}-to-{t}" for s, t in PAIRS])
def test_emitter_and_loader_killed_and_restarted(tmp_path, source_kind, target_kind, monkeypatch):
    with drifted(tmp_path, source_kind, target_kind, 61, monkeypatch) as (rng, src, tgt, t, tt, expected):
        kills("emit", tmp_path, ["emit.after_hw:2", "emit.after_publish:3"], rng, "emit")
        emit = tmp_path / "emit"
        numbers = F.ckt_numbers(emit)
        assert numbers == list(range(len(numbers))) and (emit / F.DONE).exists()
        seen = records_by_key([tt], ckt_records(emit))
        assert not {k: v for k, v in seen.items() if len(v) > 1}, "a difference was emitted twice"
        assert seen == {("items", k): [op] for k, op in expected.items()}
        kills("apply", tmp_path, ["load.before_commit:2", "load.after_commit:1"], rng, "done")
        assert count(tgt) == len(expected), "a change was applied twice, or not at all"
        assert F.ckt_numbers(tmp_path / "done") == numbers
        assert tgt.read(tt) == src.read(t)


@pytest.mark.parametrize("source_kind,target_kind", PAIRS, ids=[f"{s}-to-{t}" for s, t in PAIRS])
def test_sync_killed_and_restarted(tmp_path, source_kind, target_kind, monkeypatch):
    with drifted(tmp_path, source_kind, target_kind, 67, monkeypatch) as (rng, src, tgt, t, tt, expected):
        # the emitter's point first: it is reached early in a fresh run, whereas after a
        # kill in the loader a fast emitter may already have published everything
        kills("sync", tmp_path, ["emit.after_hw:3", "load.after_commit:2"], rng, "done")
        assert count(tgt) == len(expected), "a change was applied twice, or not at all"
        assert tgt.read(tt) == src.read(t)
        assert cli("validate", "--config", str(tmp_path / "emit.cfg")).returncode == 0
