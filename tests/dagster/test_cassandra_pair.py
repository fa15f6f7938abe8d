"""A Cassandra source in the Dagster layer: the component's Cassandra settings reach the
emitter of every run (per-table, full and validate), and a full sync from Cassandra (the
driver-API test double) into SQLite converges through the pair's jobs."""
from __future__ import annotations

from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS, cassandra_create, cassandra_insert


def test_a_cassandra_pair_passes_its_sort_settings_and_syncs(tmp_path, monkeypatch):
    from dagster import instance_for_test

    from targetsync_dagster.component import TargetSyncComponent
    from targetsync_dagster.sync import build_sync_defs
    from tests.dagster.support import QUIET
    with BACKENDS["cassandra"](tmp_path, "s") as src, BACKENDS["sqlite"](tmp_path, "t") as tgt:
        t = Table(src.schema, "kv", (Column("k", Kind.INT64, False), Column("v", Kind.TEXT)), ("k",))
        cassandra_create(src, [t])
        rows = [(i * 7919 % 1000, f"v{i}") for i in range(300)]
        cassandra_insert(src, t, rows)
        (tmp_path / "tables.txt").write_text(f"{src.schema}.kv\n")
        monkeypatch.setenv("TS_CASS_SOURCE", src.url)
        monkeypatch.setenv("TS_CASS_TARGET", tgt.url)
        component = TargetSyncComponent.model_validate({
            "name": "cass", "source": {"type": "cassandra", "dsn_env": "TS_CASS_SOURCE"},
            "target": {"type": "sqlite", "dsn_env": "TS_CASS_TARGET"}, "table_file": "tables.txt",
            "schema_rename": f"{src.schema}:main", "window_size": 64, "cassandra_pk_hash_mem_rows": 7,
            "cassandra_sort_mem_rows": 5, "cassandra_pk_hash_validation": False})
        pair = component.pair(tmp_path)
        for settings in (pair.run_dir.emit_settings("x", False), pair.run_dir.full_settings(False),
                         pair.run_dir.validate_settings()):
            assert (settings.sorting.pk_hash, settings.sorting.pk_hash_mem_rows,
                    settings.sorting.sort_mem_rows) == (False, 7, 5)
        defs = build_sync_defs(pair)
        with instance_for_test() as instance:
            for job in ("cass_schema_migration", "cass_full_sync"):
                r = defs.resolve_job_def(job).execute_in_process(instance=instance, run_config=QUIET,
                                                                 raise_on_error=False)
                assert r.success, (job, [x.event_specific_data.error.message for x in r.all_events
                                         if x.event_type_value == "STEP_FAILURE"])
        assert tgt.read(Table("main", "kv", t.columns, t.primary_key)) == src.read(t)
