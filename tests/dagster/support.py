"""A SQLite source and target with drift, and the Dagster resources pointing at them."""
from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from targetsync_dagster.assets import source_schema, table_apply, table_emit, target_ddl, target_ddl_applied
from targetsync_dagster.resources import DatabaseResource, RunDirectory
from tests.helpers import create_db, expected_changes, make_pair, random_table

ASSETS = [source_schema, target_ddl, target_ddl_applied, table_emit, table_apply]
SCHEMA_ASSETS = [source_schema, target_ddl, target_ddl_applied]


def sqlite_run(tmp: Path, seed: int = 3, ntables: int = 3, rows: int = 120, window: int = 7):
    """Source tables with rows; an empty target file (the schema assets create the
    tables); returns (resources, tables, source/target rows by table name)."""
    rng = random.Random(seed)
    tables = [random_table(rng, f"t{i}") for i in range(ntables)]
    pairs = {t.name: make_pair(rng, t, rows) for t in tables}
    create_db(tmp / "source.db", tables, {n: p[0] for n, p in pairs.items()})
    sqlite3.connect(tmp / "target.db").close()
    (tmp / "source.dsn").write_text("sqlite:///source.db\n")
    (tmp / "target.dsn").write_text("sqlite:///target.db\n")
    (tmp / "tables.txt").write_text("".join(f"{t.qualified}\n" for t in tables))
    resources = {
        "source": DatabaseResource(type="sqlite", dsn_file=str(tmp / "source.dsn")),
        "target": DatabaseResource(type="sqlite", dsn_file=str(tmp / "target.dsn")),
        "run_dir": RunDirectory(path=str(tmp / "run"), table_file=str(tmp / "tables.txt"), window_size=window,
                                max_threads=2, emit_file_target_mb=0.001),
    }
    return resources, tables, pairs


def drift_target(tmp: Path, tables, pairs) -> dict:
    """Put the drifted rows into the (now created) target; returns the expected changes."""
    from targetsync_core.adapters.sqlite import SqliteDatabase
    db = SqliteDatabase(str(tmp / "target.db"))
    for t in tables:
        db.insert_rows(t, pairs[t.name][1])
    return {t.qualified: expected_changes(t, *pairs[t.name]) for t in tables}
