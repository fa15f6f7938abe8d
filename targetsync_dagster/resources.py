"""Resources: the source and target databases, and the run directory with its settings.

A DSN comes from an ``EnvVar`` (``dsn=EnvVar("TARGETSYNC_SOURCE_DSN")``: the UI shows the
variable's name, never its value) or from a DSN file. Resources only open adapters from
``targetsync_core``; they do no database work of their own.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from dagster import ConfigurableResource
from pydantic import Field

from targetsync_core.adapters.base import Database
from targetsync_core.adapters.registry import open_database
from targetsync_core.config import read_table_list
from targetsync_core.dsn import parse_dsn, read_dsn_file, remember_secret
from targetsync_core.emit.emitter import EmitSettings
from targetsync_core.emit.unordered import SortSettings
from targetsync_core.errors import ConfigError


class DatabaseResource(ConfigurableResource):
    """One database of a sync pair: its targetsync type and where its DSN comes from."""

    type: str = Field(default="sqlite", description="targetsync database type: sqlite, postgres, mysql, mariadb, sqlserver, oracle, …")
    dsn: Optional[str] = Field(default=None, description="the DSN, best from an EnvVar (the UI shows the "
                               "variable's name, never its value)")
    dsn_file: Optional[str] = Field(default=None, description="a file holding the DSN (used when dsn is not set)")

    def open(self, role: str) -> Database:
        if self.dsn:
            dsn = remember_secret(parse_dsn(self.dsn, source=f"the {role} DSN variable"))
        elif self.dsn_file:
            dsn = read_dsn_file(self.dsn_file, f"{role} dsn_file")
        else:
            raise ConfigError(f"the {role} database resource needs dsn (an EnvVar) or dsn_file")
        return open_database(self.type, dsn, f"{role} type", role)


class RunDirectory(ConfigurableResource):
    """Where a sync pair keeps its files (the .skt, the DDL, each table's emit, done and
    checkpoint folders), its table list, and the diff settings."""

    path: str = Field(default="demo-run", description="the run directory: schema.skt, ddl/, tables/<table>/…")
    table_file: str = Field(default="demo-run/tables.txt", description="one schema.table a line (source names)")
    schema_rename: str = Field(default="", description="sourceSchema:targetSchema[,…]")
    window_size: int = Field(default=10_000, description="rows a diff window")
    max_threads: int = Field(default=4, description="windows diffed at once; in a run of several tables, "
                             "tables synced at once")
    emit_file_target_mb: float = Field(default=64.0, description="size a change file aims at (MB)")
    checkpoint_interval: float = Field(default=30.0, description="seconds between two emit checkpoints "
                                       "(each an observation of the table's partition)")
    cassandra_pk_hash_validation: bool = Field(default=True, description="Cassandra sources: diff a table of a "
                                               "one-column key as (key, row hash) pairs sorted on disk")
    cassandra_pk_hash_mem_rows: int = Field(default=1_000_000, gt=0, description="Cassandra sources: (key, hash) "
                                            "pairs held in memory before a sorted run spills to disk")
    cassandra_sort_mem_rows: int = Field(default=1_000_000, gt=0, description="Cassandra sources: whole rows held "
                                         "in memory before a sorted run spills to disk")

    @property
    def sorting(self) -> SortSettings:
        return SortSettings(self.cassandra_pk_hash_validation, self.cassandra_pk_hash_mem_rows,
                            self.cassandra_sort_mem_rows)

    @property
    def root(self) -> Path:
        return Path(self.path)

    @property
    def skt_path(self) -> Path:
        return self.root / "schema.skt"

    @property
    def ddl_dir(self) -> Path:
        return self.root / "ddl"

    def table_dir(self, name: str) -> Path:
        return self.root / "tables" / name

    @property
    def full_dir(self) -> Path:
        """Where a full sync (all tables in one run) keeps its emit, done and checkpoint folders."""
        return self.root / "full"

    def names(self) -> list[str]:
        return read_table_list(Path(self.table_file))

    def rename(self) -> dict[str, str]:
        out = {}
        for item in filter(None, (x.strip() for x in self.schema_rename.split(","))):
            src, _, dst = item.partition(":")
            out[src] = dst
        return out

    def emit_settings(self, name: str, resume: bool, max_threads: int | None = None) -> EmitSettings:
        d = self.table_dir(name)
        return EmitSettings(window_size=self.window_size, max_threads=max_threads or self.max_threads,
                            file_target_bytes=max(1, int(self.emit_file_target_mb * 1024 * 1024)),
                            output_dir=d / "emit", checkpoint_dir=d / "checkpoint", resume=resume,
                            publish_every_window=True, sorting=self.sorting)

    def group_dir(self, key: str) -> Path:
        """Where one step of the distributed sync (a table, or tables joined by foreign
        keys) keeps its folders."""
        return self.root / "groups" / key

    def full_settings(self, resume: bool, d: Path | None = None) -> EmitSettings:
        """The settings of a sync of many tables in one emit, kept in ``d`` (default
        :attr:`full_dir`)."""
        d = d or self.full_dir
        return EmitSettings(window_size=self.window_size, max_threads=self.max_threads,
                            file_target_bytes=max(1, int(self.emit_file_target_mb * 1024 * 1024)),
                            output_dir=d / "emit", checkpoint_dir=d / "checkpoint", resume=resume,
                            sorting=self.sorting)

    def validate_settings(self) -> EmitSettings:
        return EmitSettings(window_size=self.window_size, max_threads=self.max_threads, sorting=self.sorting)
