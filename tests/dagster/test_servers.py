"""The Dagster layer on real servers (issue 4, done-when 1): PostgreSQL → MariaDB and
MariaDB → PostgreSQL, DSNs through EnvVar, every table partition converges."""
from __future__ import annotations

import random

import pytest
from dagster import EnvVar, instance_for_test

from targetsync_dagster import SyncPair, build_sync_defs
from targetsync_dagster.resources import DatabaseResource, RunDirectory
from tests.conformance.backends import BACKENDS
from tests.conformance.test_conformance import drift, source_rows, tables
from tests.dagster.support import failures, run


@pytest.mark.parametrize("source_kind,target_kind", [("postgres", "mariadb"), ("mariadb", "postgres")])
def test_partitions_converge_between_servers(tmp_path, monkeypatch, source_kind, target_kind):
    rng = random.Random(9)
    with BACKENDS[source_kind](tmp_path, "s") as src, BACKENDS[target_kind](tmp_path, "t") as tgt:
        from tests.conformance.backends import joint_limits
        lim = joint_limits(src.limits, tgt.limits)
        chosen = [t for t in tables(src.schema) if t.name in ("types", "composite", "strkeys")]
        src.create(chosen)
        rows = {t.name: source_rows(rng, t, lim) for t in chosen}
        for t in chosen:
            src.insert(t, rows[t.name])
        (tmp_path / "tables.txt").write_text("".join(f"{t.qualified}\n" for t in chosen))
        monkeypatch.setenv("TS_SOURCE_DSN", src.url)
        monkeypatch.setenv("TS_TARGET_DSN", tgt.url)
        pair = SyncPair(
            name="servers", source=DatabaseResource(type=source_kind, dsn=EnvVar("TS_SOURCE_DSN")),
            target=DatabaseResource(type=target_kind, dsn=EnvVar("TS_TARGET_DSN")),
            run_dir=RunDirectory(path=str(tmp_path / "run"), table_file=str(tmp_path / "tables.txt"),
                                 schema_rename=f"{src.schema}:{tgt.schema}", window_size=9, max_threads=3,
                                 emit_file_target_mb=0.005, checkpoint_interval=0))
        defs = build_sync_defs(pair)
        with instance_for_test() as instance:
            assert run(defs, "servers_schema_migration", instance).success
            for t in chosen:
                tgt.insert(t.renamed(tgt.schema), drift(rng, t, rows[t.name], lim))
            for t in chosen:
                r = run(defs, "servers_table_sync", instance, partition_key=t.qualified)
                assert r.success, failures(r)
                (check,) = r.get_asset_check_evaluations()
                assert check.passed and check.partition == t.qualified
                assert tgt.read(t.renamed(tgt.schema)) == src.read(t), t.name
