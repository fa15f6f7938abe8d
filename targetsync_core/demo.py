"""``targetsync demo``: build a SQLite source and a drifted target, sync them, and show it.

It writes a complete run directory (DSN files, table list, schema.cfg, sync.cfg) that a
user can read and rerun by hand, so the demo doubles as a worked example.
"""
from __future__ import annotations

import datetime as dt
import random
import shutil
import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path

from targetsync_core import commands, config
from targetsync_core.adapters.sqlite import SqliteDatabase
from targetsync_core.cli import print_table_report
from targetsync_core.errors import ConfigError, OutputError

UTC = dt.timezone.utc

SOURCE_DDL = """
CREATE TABLE customers (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(80) NOT NULL, email TEXT,
  balance DECIMAL TEXT(12,2), active BOOLEAN, created TIMESTAMP(6), score DOUBLE);
CREATE TABLE orders (customer_id BIGINT NOT NULL, order_no INT NOT NULL, amount DECIMAL TEXT(18,4),
  placed_at TIMESTAMPTZ(6), note TEXT, payload BLOB, PRIMARY KEY (customer_id, order_no));
CREATE TABLE tags (tag VARCHAR(40) NOT NULL PRIMARY KEY, ref UUID, info JSON TEXT);
"""


def _rows(rng: random.Random, n: int):
    t0 = dt.datetime(2024, 1, 1)
    customers = [(i, f"customer {i}", f"c{i}@example.com" if i % 7 else None,
                  Decimal(rng.randint(-10**6, 10**8)) / 100, bool(i % 3), t0 + dt.timedelta(seconds=i * 37.5),
                  rng.random() * 100) for i in range(1, n + 1)]
    orders = [(c, o, Decimal(rng.randint(1, 10**9)) / 10000, (t0 + dt.timedelta(minutes=c * 3 + o)).replace(tzinfo=UTC),
               rng.choice([None, "", "gift\twrap", "rush"]), rng.randbytes(8)) for c in range(1, n // 2) for o in range(1, 3)]
    tags = [(f"tag-{i:04d}", uuid.UUID(int=rng.getrandbits(128)), f'{{"rank": {i}}}') for i in range(n // 10)]
    return {"customers": customers, "orders": orders, "tags": tags}


def _drift(rng: random.Random, rows: dict) -> dict:
    out = {}
    for name, table_rows in rows.items():
        kept = [r for r in table_rows if rng.random() > 0.01]                # 1% missing: inserts
        changed = [r[:-1] + (None,) if rng.random() < 0.02 else r for r in kept]  # 2% edited: updates
        out[name] = changed
    out["customers"] += [(-i, "stray", None, None, None, None, None) for i in range(1, 4)]      # below range
    out["customers"] += [(10**9 + i, "stray", None, None, None, None, None) for i in range(3)]  # above range
    return out


#: marks a directory as a demo run's, which a later demo may empty and write again
MARK = ".targetsync-demo"
#: what a demo run writes there (also before the mark existed)
WRITTEN = {"apply.cfg", "ddl", "emit.cfg", "schema.cfg", "schema.skt", "source.db", "source.dsn", "sync.cfg",
           "tables", "tables.txt", "target.db", "target.dsn", "emit", "done", "checkpoint", MARK}


def _replaceable(d: Path) -> bool:
    """Whether ``d`` may be emptied: empty, or a demo run's (marked, or holding only what
    a demo writes). Anything else is the user's: never deleted."""
    names = {p.name for p in d.iterdir()}
    return MARK in names or all(n in WRITTEN or n.endswith((".log", "-journal", "-wal", "-shm")) for n in names)


def write_run_dir(d: Path, n: int, seed: int = 7) -> None:
    """A demo run directory in ``d``: new, empty, or a previous demo run's, which is
    replaced. Any other directory is refused (ConfigError), its contents untouched."""
    if n < 1:
        raise ConfigError(f"demo: --rows must be at least 1, not {n}")
    try:
        if d.exists() and not d.is_dir():
            raise ConfigError(f"demo: {d} is a file, not a directory: give a new or empty directory")
        if d.is_dir() and not _replaceable(d):
            raise ConfigError(f"demo: {d} holds files that are not a demo run's; give a new or empty directory "
                              "(nothing in it was touched)")
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        (d / MARK).write_text("a targetsync demo run: `targetsync demo` may replace this directory\n")
    except OSError as exc:
        raise OutputError.of(exc, "demo directory", d) from None
    for side in ("source", "target"):
        sqlite3.connect(d / f"{side}.db").close()
        (d / f"{side}.dsn").write_text(f"sqlite:///{side}.db\n")
    sqlite3.connect(d / "source.db").executescript(SOURCE_DDL)
    (d / "tables.txt").write_text("main.customers\nmain.orders\nmain.tags\n")
    common = "sourceType=sqlite\nsourceDsnFile=source.dsn\ntargetType=sqlite\ntargetDsnFile=target.dsn\n" \
             "tableFile=tables.txt\nschemaFile=schema.skt\n"
    (d / "schema.cfg").write_text(common + "outputDirectory=ddl\n")
    emit = "emitOutputDirectory=emit\nwindowSize=500\nmaxThreads=4\nemitFileTargetMB=0.25\ncheckpointDir=checkpoint\n"
    (d / "emit.cfg").write_text(common + "targetSyncEmit=true\n" + emit + "logFile=emit.log\n")
    (d / "apply.cfg").write_text("targetType=sqlite\ntargetDsnFile=target.dsn\nschemaFile=schema.skt\n"
                                 "inputDirectory=emit\ndoneDirectory=done\nlogFile=apply.log\n")
    (d / "sync.cfg").write_text(common + emit + "doneDirectory=done\nlogFile=sync.log\n")
    rng = random.Random(seed)
    rows = _rows(rng, n)
    src = SqliteDatabase(str(d / "source.db"))
    for name, table_rows in rows.items():
        src.insert_rows(src.reflect("main", name), table_rows)
    _cmd(d, "schema", "schema.cfg", apply=True)
    tgt = SqliteDatabase(str(d / "target.db"))
    for name, table_rows in _drift(rng, rows).items():
        tgt.insert_rows(tgt.reflect("main", name), table_rows)


def _cmd(d: Path, command: str, cfg_name: str, apply: bool = False):
    cfg = config.build(command, config.read_file(str(d / cfg_name)), {}, d, d)
    if command == "schema":
        return commands.run_schema(cfg, apply)
    if command == "validate":
        return commands.run_emit(cfg, write=False)
    return commands.run_sync(cfg)


def run_demo(d: Path, n: int) -> int:
    d = d.resolve()
    write_run_dir(d, n)
    print(f"demo: generated a SQLite source ({n:,} customers) and a drifted target in {d}")
    result = _cmd(d, "sync", "sync.cfg")
    print("demo: targetsync sync --config sync.cfg changed:")
    print_table_report([(t.name, t.counts.source_rows, t.counts.target_rows, t.counts.inserts,
                         t.counts.updates, t.counts.deletes) for t in result.emit.tables])
    print(f"demo: {result.emit.files} change file(s), {result.load.records:,} record(s) applied")
    check = _cmd(d, "validate", "emit.cfg")
    print(f"demo: validate afterwards: {check.changes} difference(s)")
    print(f"demo: rerun by hand with: targetsync sync --config {d / 'sync.cfg'}")
    return 0 if check.changes == 0 else 1
