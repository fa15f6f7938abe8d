"""``python -m targetsync_dagster.demo``: the full sync job on the embedded SQLite default.

It writes the demo run directory (a SQLite source and a drifted target, as
``targetsync demo`` does), materializes the schema assets, runs the ``table_sync`` job for
every table partition in the local Dagster instance (``DAGSTER_HOME``; the runs are then
in the UI), and prints what changed per table.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from targetsync_core import commands
from targetsync_core.cli import print_table_report
from targetsync_core.errors import TargetSyncError
from targetsync_core.demo import write_run_dir
from targetsync_core.model import skt


def _instance() -> DagsterInstance:
    if os.environ.get("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        return DagsterInstance.get()
    return DagsterInstance.local_temp(tempfile.mkdtemp(prefix="targetsync-dagster-"))


def _latest(instance: DagsterInstance, asset: str, partition: str) -> dict:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition]), limit=1).records
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()} if records else {}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", default="demo-run")
    p.add_argument("--rows", type=int, default=5000)
    args = p.parse_args(argv)
    d = Path(args.dir).resolve()
    try:
        write_run_dir(d, args.rows)
    except TargetSyncError as exc:
        print(f"targetsync: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"demo: generated a SQLite source ({args.rows:,} customers) and a drifted target in {d}")
    os.environ.update(TARGETSYNC_RUN_DIR=str(d), TARGETSYNC_WINDOW_SIZE="500", TARGETSYNC_FILE_TARGET_MB="0.25")
    from targetsync_dagster.definitions import build_definitions
    defs = build_definitions()
    instance = _instance()
    if not defs.resolve_job_def("schema_migration").execute_in_process(instance=instance, raise_on_error=False).success:
        print("demo: the schema assets failed; see the Dagster logs above", file=sys.stderr)
        return 3
    job = defs.resolve_job_def("table_sync")
    names = [t.qualified for t in skt.read(d / "schema.skt")]
    rows, ok = [], True
    for name in names:
        result = job.execute_in_process(partition_key=name, instance=instance, raise_on_error=False)
        ok &= result.success
        m = _latest(instance, "table_emit", name)
        rows.append((name, m.get("source_rows", 0), m.get("target_rows", 0), m.get("inserts", 0),
                     m.get("updates", 0), m.get("deletes", 0)))
    print("demo: Dagster job table_sync, one run per table partition, changed:")
    print_table_report(rows)
    if not ok:
        print("demo: a table run failed; see the Dagster logs above", file=sys.stderr)
        return 3
    cfg_dir = d
    from targetsync_core import config
    cfg = config.build("validate", config.read_file(str(cfg_dir / "emit.cfg")), {}, cfg_dir, cfg_dir)
    check = commands.run_emit(cfg, write=False)
    print(f"demo: validate afterwards: {check.changes} difference(s)")
    print("demo: open the UI with: make ui   (http://127.0.0.1:3000)")
    return 0 if check.changes == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
