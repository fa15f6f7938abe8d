"""A SQLite source and target with drift, and a sync pair's definitions over them."""
from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from targetsync_dagster import SyncPair, build_sync_defs
from targetsync_dagster.resources import DatabaseResource, RunDirectory
from tests.helpers import create_db, expected_changes, make_pair, random_table

#: Dagster's console logger at WARNING: the tests' output stays readable
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def sqlite_pair(tmp: Path, window: int = 7, name: str = "t", **kw) -> SyncPair:
    return SyncPair(name=name, source=DatabaseResource(type="sqlite", dsn_file=str(tmp / "source.dsn")),
                    target=DatabaseResource(type="sqlite", dsn_file=str(tmp / "target.dsn")),
                    run_dir=RunDirectory(path=str(tmp / "run"), table_file=str(tmp / "tables.txt"), window_size=window,
                                         max_threads=2, emit_file_target_mb=0.001,
                                         checkpoint_interval=kw.pop("checkpoint_interval", 0.0)), **kw)


def sqlite_run(tmp: Path, seed: int = 3, ntables: int = 3, rows: int = 120, window: int = 7, **kw):
    """Source tables with rows; an empty target file (the schema assets create the
    tables); returns (pair, definitions, tables, source/target rows by table name)."""
    rng = random.Random(seed)
    tables = [random_table(rng, f"t{i}") for i in range(ntables)]
    pairs = {t.name: make_pair(rng, t, rows) for t in tables}
    create_db(tmp / "source.db", tables, {n: p[0] for n, p in pairs.items()})
    sqlite3.connect(tmp / "target.db").close()
    (tmp / "source.dsn").write_text("sqlite:///source.db\n")
    (tmp / "target.dsn").write_text("sqlite:///target.db\n")
    (tmp / "tables.txt").write_text("".join(f"{t.qualified}\n" for t in tables))
    pair = sqlite_pair(tmp, window, **kw)
    return pair, build_sync_defs(pair), tables, pairs


def drift_target(tmp: Path, tables, pairs) -> dict:
    """Put the drifted rows into the (now created) target; returns the expected changes."""
    from targetsync_core.adapters.sqlite import SqliteDatabase
    db = SqliteDatabase(str(tmp / "target.db"))
    for t in tables:
        db.insert_rows(t, pairs[t.name][1])
    return {t.qualified: expected_changes(t, *pairs[t.name]) for t in tables}


def run(defs, job: str, instance, **kw):
    return defs.resolve_job_def(job).execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False, **kw)


def materialized(instance, key, partition: str) -> dict:
    """The metadata of the partition's latest materialization."""
    from dagster import AssetRecordsFilter
    recs = instance.fetch_materializations(AssetRecordsFilter(asset_key=key, asset_partitions=[partition]),
                                           limit=1).records
    return {k: v.value for k, v in recs[0].asset_materialization.metadata.items()} if recs else {}


def failures(result) -> list[str]:
    return [e.event_specific_data.error.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
