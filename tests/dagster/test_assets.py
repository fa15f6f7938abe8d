"""The Dagster layer through ``materialize`` (issue 4, done-when 1 and 3)."""
import datetime as dt

from dagster import DagsterInstance, build_schedule_context, build_sensor_context, instance_for_test, materialize

from targetsync_core.adapters.sqlite import SqliteDatabase
from targetsync_dagster.partitions import TABLES
from targetsync_dagster.schedules import nightly_drift_repair, table_list_sensor
from tests.dagster.support import ASSETS, SCHEMA_ASSETS, drift_target, sqlite_run
from tests.helpers import canon_row, read_all


def materializations(result, name):
    return [e.event_specific_data.materialization for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"
            and e.event_specific_data.materialization.asset_key.to_user_string() == name]


def meta(mat) -> dict:
    return {k: v.value for k, v in mat.metadata.items()}


def test_every_table_partition_converges_with_check_and_metadata(tmp_path):
    instance = DagsterInstance.ephemeral()
    resources, tables, pairs = sqlite_run(tmp_path)
    result = materialize(ASSETS, selection=SCHEMA_ASSETS, resources=resources, instance=instance)
    assert result.success
    assert sorted(instance.get_dynamic_partitions(TABLES.name)) == sorted(t.qualified for t in tables)
    schema_meta = meta(materializations(result, "source_schema")[0])
    assert schema_meta["tables"] == len(tables) and schema_meta["columns"] == sum(len(t.columns) for t in tables)
    assert "CREATE TABLE" in meta(materializations(result, "target_ddl")[0])["c.sql"]
    expected = drift_target(tmp_path, tables, pairs)
    src, tgt = SqliteDatabase(str(tmp_path / "source.db")), SqliteDatabase(str(tmp_path / "target.db"))
    for t in tables:
        r = materialize(ASSETS, selection=ASSETS[3:], partition_key=t.qualified, resources=resources,
                        instance=instance)
        assert r.success
        (check,) = r.get_asset_check_evaluations()
        assert check.passed and check.metadata["differences"].value == 0
        emits = [meta(m) for m in materializations(r, "table_emit")]
        final = emits[-1]
        assert final["targetsync/stage"] == "complete" and all(m["targetsync/stage"] == "checkpoint" for m in emits[:-1])
        want = expected[t.qualified]
        assert (final["inserts"], final["updates"], final["deletes"]) == \
            tuple(sum(1 for op in want.values() if op == x) for x in "IUD")
        assert final["source_rows"] == len(pairs[t.name][0]) and final["target_rows"] == len(pairs[t.name][1])
        assert final["dagster/row_count"] == len(pairs[t.name][0])
        assert final["windows"] == len(emits) - 1 and final["files"] >= 1 and final["bytes"] > 0
        applied = meta(materializations(r, "table_apply")[0])
        assert applied["records"] == len(want) and applied["dagster/row_count"] == len(pairs[t.name][0])
        assert [canon_row(t, x) for x in read_all(src, t)] == [canon_row(t, x) for x in read_all(tgt, t)]


def test_schedule_requests_every_table_partition_and_sensor_adds_new_tables(tmp_path):
    with instance_for_test() as instance:
        check_schedule_and_sensor(tmp_path, instance)


def check_schedule_and_sensor(tmp_path, instance):
    resources, tables, _ = sqlite_run(tmp_path, ntables=2)
    with build_sensor_context(instance=instance, resources={"run_dir": resources["run_dir"]}) as ctx:
        result = table_list_sensor(ctx)
    (request,) = result.dynamic_partitions_requests
    assert sorted(request.partition_keys) == sorted(t.qualified for t in tables)
    instance.add_dynamic_partitions(TABLES.name, list(request.partition_keys))
    (tmp_path / "tables.txt").write_text((tmp_path / "tables.txt").read_text() + "main.later\n")
    with build_sensor_context(instance=instance, resources={"run_dir": resources["run_dir"]}) as ctx:
        assert list(table_list_sensor(ctx).dynamic_partitions_requests[0].partition_keys) == ["main.later"]
    instance.add_dynamic_partitions(TABLES.name, ["main.later"])
    with build_schedule_context(instance=instance,
                                scheduled_execution_time=dt.datetime(2026, 11, 21, 2, tzinfo=dt.timezone.utc)) as ctx:
        requests = list(nightly_drift_repair(ctx))
    assert sorted(r.partition_key for r in requests) == sorted([t.qualified for t in tables] + ["main.later"])
    assert len({r.run_key for r in requests}) == len(requests)
