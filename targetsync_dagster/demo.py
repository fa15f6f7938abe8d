"""``python -m targetsync_dagster.demo``: the full sync job on the embedded SQLite default.

It writes the demo run directory (a SQLite source and a drifted target, as ``targetsync
demo`` does), runs the demo pair's ``schema_migration`` job and then its ``full_sync``
job (every table in one run) in the local Dagster instance (``DAGSTER_HOME``; the runs
are then in the UI), and prints what changed per table. Dagster's own event stream stays
quiet: warnings and this summary only.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from targetsync_core import commands, config
from targetsync_core.cli import TABLE_HEAD, print_table_report
from targetsync_core.demo import write_run_dir
from targetsync_core.errors import TargetSyncError
from targetsync_core.model import skt

#: Dagster's console logger at WARNING: no DEBUG event stream before the summary
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _instance() -> DagsterInstance:
    if os.environ.get("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        return DagsterInstance.get()
    return DagsterInstance.local_temp(tempfile.mkdtemp(prefix="targetsync-dagster-"))


def _latest(instance: DagsterInstance, key: AssetKey, partition: str) -> dict:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1).records
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
    from targetsync_dagster.definitions import build_definitions, env_pair
    defs, pair = build_definitions(), env_pair()
    instance = _instance()
    for job in (f"{pair.name}_schema_migration", f"{pair.name}_full_sync"):
        if not defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False,
                                                             run_config=QUIET).success:
            print(f"demo: the Dagster job {job} failed; its run is in the UI (make ui)", file=sys.stderr)
            return 3
    rows = []
    for name in (t.qualified for t in skt.read(d / "schema.skt")):
        m = _latest(instance, pair.key("table_emit"), name)
        rows.append((name, m.get("source rows", 0), m.get("target rows (before)", 0), m.get("inserts", 0),
                     m.get("updates", 0), m.get("deletes", 0)))
    print(f"demo: Dagster job {pair.name}_full_sync (every table in one run) changed:")
    print_table_report(rows, head=TABLE_HEAD[:2] + ("target rows (before)",) + TABLE_HEAD[3:])
    cfg = config.build("validate", config.read_file(str(d / "emit.cfg")), {}, d, d)
    check = commands.run_emit(cfg, write=False)
    print(f"demo: validate afterwards: {check.changes} difference(s)")
    print("demo: open the UI with: make ui   (http://127.0.0.1:3000)")
    return 0 if check.changes == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
