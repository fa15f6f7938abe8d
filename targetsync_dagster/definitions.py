"""The code location: ``dg dev`` ([tool.dg]) and ``dagster dev`` (workspace.yaml) load ``defs``.

It holds the demo sync pair, configured from the environment (defaults: the embedded
SQLite demo run directory), and every ``TargetSyncComponent`` instance under
``targetsync_dagster/defs/`` (none in this repository). The demo pair's settings:

* ``TARGETSYNC_SYNC_NAME`` (``demo``: the prefix of its assets, jobs and partitions);
* ``TARGETSYNC_RUN_DIR`` (``demo-run``), ``TARGETSYNC_TABLE_FILE`` (``<run dir>/tables.txt``),
  ``TARGETSYNC_SCHEMA_RENAME``, ``TARGETSYNC_WINDOW_SIZE``, ``TARGETSYNC_MAX_THREADS``,
  ``TARGETSYNC_FILE_TARGET_MB``, ``TARGETSYNC_CHECKPOINT_SECONDS``, ``TARGETSYNC_PARTITIONS_PER_RUN``;
* ``TARGETSYNC_SOURCE_TYPE`` / ``TARGETSYNC_TARGET_TYPE`` (``sqlite``);
* the DSNs: ``TARGETSYNC_SOURCE_DSN`` / ``TARGETSYNC_TARGET_DSN`` (read through EnvVar, never
  shown), or else the DSN files ``TARGETSYNC_SOURCE_DSN_FILE`` / ``TARGETSYNC_TARGET_DSN_FILE``
  (``<run dir>/source.dsn``, ``<run dir>/target.dsn``).
"""
from __future__ import annotations

import os
from pathlib import Path

from dagster import Definitions, EnvVar, load_from_defs_folder

from targetsync_dagster.resources import DatabaseResource, RunDirectory
from targetsync_dagster.sync import SyncPair, build_sync_defs


def _database(role: str, run_dir: str) -> DatabaseResource:
    var = f"TARGETSYNC_{role.upper()}_DSN"
    kind = os.environ.get(f"TARGETSYNC_{role.upper()}_TYPE", "sqlite")
    if os.environ.get(var):
        return DatabaseResource(type=kind, dsn=EnvVar(var))
    return DatabaseResource(type=kind, dsn_file=os.environ.get(f"{var}_FILE", os.path.join(run_dir, f"{role}.dsn")))


def env_pair() -> SyncPair:
    """The demo pair, from the environment."""
    env = os.environ.get
    run_dir = env("TARGETSYNC_RUN_DIR", "demo-run")
    return SyncPair(
        name=env("TARGETSYNC_SYNC_NAME", "demo"),
        source=_database("source", run_dir), target=_database("target", run_dir),
        run_dir=RunDirectory(path=run_dir, table_file=env("TARGETSYNC_TABLE_FILE", os.path.join(run_dir, "tables.txt")),
                             schema_rename=env("TARGETSYNC_SCHEMA_RENAME", ""),
                             window_size=int(env("TARGETSYNC_WINDOW_SIZE", "10000")),
                             max_threads=int(env("TARGETSYNC_MAX_THREADS", "4")),
                             emit_file_target_mb=float(env("TARGETSYNC_FILE_TARGET_MB", "64")),
                             checkpoint_interval=float(env("TARGETSYNC_CHECKPOINT_SECONDS", "30"))),
        max_partitions_per_run=int(env("TARGETSYNC_PARTITIONS_PER_RUN", "25")),
        description="The demo: a generated SQLite source and its drifted copy.")


def build_definitions() -> Definitions:
    root = Path(__file__).resolve().parents[1]
    parts = [build_sync_defs(env_pair())]
    if (root / "pyproject.toml").exists():   # a checkout: its defs/ folder's component instances
        parts.append(load_from_defs_folder(path_within_project=root))
    return Definitions.merge(*parts)


defs = build_definitions()
