"""The code location: ``dagster dev`` (workspace.yaml) and ``dg`` ([tool.dg]) load ``defs``.

Configured from the environment, defaulting to the embedded SQLite demo run directory:

* ``TARGETSYNC_RUN_DIR`` (``demo-run``), ``TARGETSYNC_TABLE_FILE`` (``<run dir>/tables.txt``),
  ``TARGETSYNC_SCHEMA_RENAME``, ``TARGETSYNC_WINDOW_SIZE``, ``TARGETSYNC_MAX_THREADS``,
  ``TARGETSYNC_FILE_TARGET_MB``;
* ``TARGETSYNC_SOURCE_TYPE`` / ``TARGETSYNC_TARGET_TYPE`` (``sqlite``);
* the DSNs: ``TARGETSYNC_SOURCE_DSN`` / ``TARGETSYNC_TARGET_DSN`` (read through EnvVar, never
  shown), or else the DSN files ``TARGETSYNC_SOURCE_DSN_FILE`` / ``TARGETSYNC_TARGET_DSN_FILE``
  (``<run dir>/source.dsn``, ``<run dir>/target.dsn``).
"""
from __future__ import annotations

import os

from dagster import Definitions, EnvVar

from targetsync_dagster.assets import source_schema, table_apply, table_emit, target_ddl, target_ddl_applied
from targetsync_dagster.resources import DatabaseResource, RunDirectory
from targetsync_dagster.schedules import nightly_drift_repair, schema_migration, table_list_sensor, table_sync


def _database(role: str, run_dir: str) -> DatabaseResource:
    var = f"TARGETSYNC_{role.upper()}_DSN"
    if os.environ.get(var):
        return DatabaseResource(type=os.environ.get(f"TARGETSYNC_{role.upper()}_TYPE", "sqlite"), dsn=EnvVar(var))
    return DatabaseResource(type=os.environ.get(f"TARGETSYNC_{role.upper()}_TYPE", "sqlite"),
                            dsn_file=os.environ.get(f"{var}_FILE", os.path.join(run_dir, f"{role}.dsn")))


def build_definitions() -> Definitions:
    env = os.environ.get
    run_dir = env("TARGETSYNC_RUN_DIR", "demo-run")
    return Definitions(
        assets=[source_schema, target_ddl, target_ddl_applied, table_emit, table_apply],
        jobs=[schema_migration, table_sync],
        schedules=[nightly_drift_repair],
        sensors=[table_list_sensor],
        resources={
            "source": _database("source", run_dir),
            "target": _database("target", run_dir),
            "run_dir": RunDirectory(path=run_dir, table_file=env("TARGETSYNC_TABLE_FILE", os.path.join(run_dir, "tables.txt")),
                                    schema_rename=env("TARGETSYNC_SCHEMA_RENAME", ""),
                                    window_size=int(env("TARGETSYNC_WINDOW_SIZE", "10000")),
                                    max_threads=int(env("TARGETSYNC_MAX_THREADS", "4")),
                                    emit_file_target_mb=float(env("TARGETSYNC_FILE_TARGET_MB", "64"))),
        },
    )


defs = build_definitions()
