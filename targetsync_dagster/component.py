"""``TargetSyncComponent``: one sync pair from YAML, as dagster-sling and dagster-dlt do.

``defs.yaml`` (``dg scaffold defs targetsync_dagster.TargetSyncComponent orders``)::

    type: targetsync_dagster.TargetSyncComponent
    attributes:
      name: orders
      source: {type: postgres, dsn_env: ORDERS_DSN}
      target: {type: mariadb, dsn_env: WAREHOUSE_DSN}
      table_file: orders/tables.txt
      schema_rename: public:warehouse
      schedule: "0 2 * * *"
      owners: [team:data-platform]

Each instance gets its own asset group, partitions, jobs, schedule, sensor and resources
(``sync.build_sync_defs``), every name prefixed with ``name``; relative paths are the
project root's. Two instances must not share a run directory (its default is
``targetsync-runs/<name>``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Optional

import dagster as dg
from pydantic import Field

from targetsync_dagster.resources import DatabaseResource, RunDirectory
from targetsync_dagster.sync import SyncPair, build_sync_defs


class DatabaseConfig(dg.Model):
    """Where one side of the pair is: its type and where its DSN comes from."""

    type: str = Field(default="sqlite", description="targetsync database type: sqlite, postgres, mysql, mariadb, sqlserver, oracle, …")
    dsn_env: Optional[str] = Field(default=None, description="the environment variable holding the DSN "
                                   "(the UI shows its name, never its value)")
    dsn_file: Optional[str] = Field(default=None, description="a file holding the DSN, if not dsn_env")

    def resource(self, base: Path) -> DatabaseResource:
        if self.dsn_env:
            return DatabaseResource(type=self.type, dsn=dg.EnvVar(self.dsn_env))
        return DatabaseResource(type=self.type, dsn_file=str(base / self.dsn_file) if self.dsn_file else None)


class TargetSyncComponent(dg.Component, dg.Resolvable, dg.Model):
    """A targetsync sync pair: make the target's tables equal to the source's, table by
    table (partitions), all at once (a full sync), nightly (a schedule); report drift
    without applying (a drift report)."""

    name: str = Field(description="the pair's name: prefixes its assets, jobs, partitions and resources")
    source: DatabaseConfig = Field(description="the source database")
    target: DatabaseConfig = Field(description="the target database")
    run_dir: Optional[str] = Field(default=None, description="where the pair keeps its files "
                                   "(default targetsync-runs/<name>)")
    table_file: Optional[str] = Field(default=None, description="one schema.table a line, source names "
                                      "(default <run_dir>/tables.txt)")
    schema_rename: str = Field(default="", description="sourceSchema:targetSchema[,…]")
    window_size: int = Field(default=10_000, description="rows a diff window")
    max_threads: int = Field(default=4, description="windows diffed at once; tables at once in a run of several")
    emit_file_target_mb: float = Field(default=64.0, description="size a change file aims at (MB)")
    checkpoint_interval: float = Field(default=30.0, description="seconds between emit checkpoints")
    cassandra_pk_hash_validation: bool = Field(default=True, description="Cassandra sources: the bounded "
                                               "(key, row hash) diff for tables of a one-column key")
    cassandra_pk_hash_mem_rows: int = Field(default=1_000_000, gt=0, description="Cassandra sources: (key, hash) "
                                            "pairs in memory before spilling")
    cassandra_sort_mem_rows: int = Field(default=1_000_000, gt=0, description="Cassandra sources: whole rows in "
                                         "memory before spilling")
    executor: Literal["in_process", "multiprocess", "celery"] = Field(
        default="in_process", description="where the steps of the distributed sync run: in this process, in "
        "subprocesses, or on Celery workers (docs/DEPLOY.md)")
    celery_broker_env: str = Field(default="TARGETSYNC_CELERY_BROKER", description="the environment variable "
                                   "holding the Celery broker URL (executor: celery)")
    celery_backend_env: str = Field(default="TARGETSYNC_CELERY_BACKEND", description="the environment variable "
                                    "holding the Celery result backend URL (executor: celery)")
    celery_queue: str = Field(default="dagster", description="the Celery queue the steps go to (workers "
                              "started with -q QUEUE take them)")
    schedule: Optional[str] = Field(default="0 2 * * *", description="cron (UTC) of the full sync; null: none")
    max_partitions_per_run: int = Field(default=25, description="tables a backfill run takes at once")
    description: str = Field(default="", description="what this sync is for, shown on its assets")
    owners: list[str] = Field(default_factory=list, description="owners of the pair's assets")
    tags: dict[str, str] = Field(default_factory=dict, description="tags of the pair's assets")

    def pair(self, base: Path) -> SyncPair:
        run_dir = base / (self.run_dir or f"targetsync-runs/{self.name}")
        table_file = base / self.table_file if self.table_file else run_dir / "tables.txt"
        return SyncPair(
            name=self.name, source=self.source.resource(base), target=self.target.resource(base),
            run_dir=RunDirectory(path=str(run_dir), table_file=str(table_file), schema_rename=self.schema_rename,
                                 window_size=self.window_size, max_threads=self.max_threads,
                                 emit_file_target_mb=self.emit_file_target_mb,
                                 checkpoint_interval=self.checkpoint_interval,
                                 cassandra_pk_hash_validation=self.cassandra_pk_hash_validation,
                                 cassandra_pk_hash_mem_rows=self.cassandra_pk_hash_mem_rows,
                                 cassandra_sort_mem_rows=self.cassandra_sort_mem_rows),
            schedule=self.schedule, max_partitions_per_run=self.max_partitions_per_run,
            description=self.description, owners=tuple(self.owners), tags=dict(self.tags), executor=self.executor,
            celery_broker_env=self.celery_broker_env, celery_backend_env=self.celery_backend_env,
            celery_queue=self.celery_queue)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        root = getattr(context, "project_root", None)
        return build_sync_defs(self.pair(Path(root) if root else Path(os.getcwd())))
