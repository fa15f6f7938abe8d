"""A sync pair's Dagster definitions, executed in process (issues 4 and 19): per-table
partitions converge with checks that name their table; a full sync does every table in one
run; a table that still differs fails its check; a drift report applies nothing; apply
alone, and a partition not in the table list, are refused in one line."""
from __future__ import annotations

import datetime as dt
import sqlite3

from dagster import (AssetKey, DagsterEventType, build_schedule_context, build_sensor_context, instance_for_test)

from targetsync_core.adapters.sqlite import SqliteDatabase
from tests.dagster.support import drift_target, failures, materialized, run, sqlite_run
from tests.helpers import canon_row, read_all


def same(tmp_path, t) -> bool:
    src, tgt = SqliteDatabase(str(tmp_path / "source.db")), SqliteDatabase(str(tmp_path / "target.db"))
    return [canon_row(t, x) for x in read_all(src, t)] == [canon_row(t, x) for x in read_all(tgt, t)]


def converged(tmp_path, instance, pair, tables, r) -> None:
    """Run ``r`` succeeded, every table passed its check, is equal on both sides and
    recorded no difference after apply."""
    assert r.success, failures(r)
    checks = {e.partition: e.passed for e in r.get_asset_check_evaluations()}
    assert checks == {t.qualified: True for t in tables}
    for t in tables:
        assert same(tmp_path, t)
        assert materialized(instance, pair.key("table_apply"), t.qualified)["differences after apply"] == 0


def subset(defs, instance, partition: str, **selection):
    """Run only the selected assets or checks of one partition, as the UI's launch does."""
    job = defs.resolve_implicit_global_asset_job_def().get_subset(**selection)
    return job.execute_in_process(instance=instance, partition_key=partition, raise_on_error=False)


def migrated(tmp_path, instance, **kw):
    pair, defs, tables, pairs = sqlite_run(tmp_path, **kw)
    assert run(defs, "t_schema_migration", instance).success
    return pair, defs, tables, pairs, drift_target(tmp_path, tables, pairs)


def test_every_partition_converges_with_a_check_naming_its_table(tmp_path):
    with instance_for_test() as instance:
        pair, defs, tables, pairs, expected = migrated(tmp_path, instance)
        assert sorted(instance.get_dynamic_partitions("t_tables")) == sorted(t.qualified for t in tables)
        for t in tables:
            r = run(defs, "t_table_sync", instance, partition_key=t.qualified)
            assert r.success, failures(r)
            (check,) = r.get_asset_check_evaluations()
            assert check.passed and check.partition == t.qualified and t.qualified in check.description
            assert check.metadata["differences"].value == 0
            emit = materialized(instance, pair.key("table_emit"), t.qualified)
            want = expected[t.qualified]
            assert (emit["inserts"], emit["updates"], emit["deletes"]) == \
                tuple(sum(1 for op in want.values() if op == x) for x in "IUD")
            assert emit["source rows"] == len(pairs[t.name][0]) and emit["target rows (before)"] == len(pairs[t.name][1])
            assert emit["dagster/table_name"] == t.qualified and emit["targetsync/stage"] == "complete"
            assert [c.name for c in emit["dagster/column_schema"].columns] == [c.name for c in t.columns]
            assert emit["duration (s)"] == round(emit["duration (s)"], 2)
            assert list(emit)[-1].startswith("targetsync/")   # internal keys last
            applied = materialized(instance, pair.key("table_apply"), t.qualified)
            assert applied["applied records"] == len(want) and applied["differences after apply"] == 0
            assert same(tmp_path, t)


def test_specs_carry_kinds_table_names_and_source_to_target_lineage(tmp_path):
    pair, defs, tables, _ = sqlite_run(tmp_path, ntables=2)
    graph = defs.resolve_asset_graph()
    emit, apply = pair.key("table_emit"), pair.key("table_apply")
    sources = [pair.key("source", t.qualified) for t in tables]
    for key in sources:
        node = graph.get(key)
        assert node.kinds == {"sqlite"} and node.metadata["dagster/table_name"] == key.path[-1]
        assert emit in graph.get(key).child_keys
    assert graph.get(emit).kinds == {"targetsync", "sqlite"} and apply in graph.get(emit).child_keys
    assert all(graph.get(k).group_name == "t" for k in [*sources, emit, apply])


def test_a_full_sync_does_every_table_in_one_run_and_records_each_partition(tmp_path):
    with instance_for_test() as instance:
        pair, defs, tables, _, _ = migrated(tmp_path, instance)
        converged(tmp_path, instance, pair, tables, run(defs, "t_full_sync", instance))


def test_a_backfill_run_takes_several_partitions_and_records_each(tmp_path):
    with instance_for_test() as instance:
        pair, defs, tables, _, _ = migrated(tmp_path, instance)
        names = sorted(t.qualified for t in tables)
        r = run(defs, "t_table_sync", instance, tags={"dagster/asset_partition_range_start": names[0],
                                                      "dagster/asset_partition_range_end": names[-1]})
        assert r.success, failures(r)
        per_partition = {e.partition for e in r.get_asset_check_evaluations() if e.partition}
        assert per_partition == set(names)
        for t in tables:
            assert same(tmp_path, t)
            assert materialized(instance, pair.key("table_emit"), t.qualified)["targetsync/stage"] == "complete"


def test_a_table_still_different_after_apply_fails_its_check_and_a_drift_report_says_so(tmp_path, monkeypatch):
    import targetsync_dagster.tables as tables_mod
    with instance_for_test() as instance:
        pair, defs, tables, _, _ = migrated(tmp_path, instance, ntables=1)
        (t,) = tables
        real = tables_mod.commands.apply_changes

        def then_the_source_changes(*a, **k):   # between the emit and the check
            out = real(*a, **k)
            conn = sqlite3.connect(tmp_path / "source.db")
            conn.execute(f'DELETE FROM "{t.name}" WHERE rowid = (SELECT min(rowid) FROM "{t.name}")')
            conn.commit()
            conn.close()
            return out
        monkeypatch.setattr(tables_mod.commands, "apply_changes", then_the_source_changes)
        r = run(defs, "t_table_sync", instance, partition_key=t.qualified)
        assert not r.success and any("still different after apply" in m for m in failures(r))
        (check,) = r.get_asset_check_evaluations()
        assert not check.passed and check.severity.value == "ERROR" and t.qualified in check.description
        assert materialized(instance, pair.key("table_apply"), t.qualified)["differences after apply"] == 1
        monkeypatch.setattr(tables_mod.commands, "apply_changes", real)
        before = read_all(SqliteDatabase(str(tmp_path / "target.db")), t)
        report = run(defs, "t_drift_report", instance)
        assert not report.success and any("1 of 1 table(s) differ" in m for m in failures(report))
        (validated,) = report.get_asset_check_evaluations()
        assert not validated.passed and validated.partition == t.qualified
        assert validated.metadata["targetsync/mode"].value == "validate only"
        assert read_all(SqliteDatabase(str(tmp_path / "target.db")), t) == before


def test_apply_alone_and_a_partition_not_in_the_table_list_are_refused_with_nothing_written(tmp_path):
    with instance_for_test() as instance:
        pair, defs, tables, _, _ = migrated(tmp_path, instance, ntables=1)
        (t,) = tables
        before = read_all(SqliteDatabase(str(tmp_path / "target.db")), t)
        r = subset(defs, instance, t.qualified, asset_selection={pair.key("table_apply")})
        (line,) = failures(r)
        assert "table_apply applies the change files of this run's table_emit" in line
        assert read_all(SqliteDatabase(str(tmp_path / "target.db")), t) == before
        instance.add_dynamic_partitions("t_tables", ["main.nosuch"])
        r = run(defs, "t_table_sync", instance, partition_key="main.nosuch")
        (line,) = failures(r)
        assert "main.nosuch is not in the table list" in line
        retries = [e for e in r.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
        assert not retries and not (tmp_path / "run" / "tables" / "main.nosuch").exists()


def test_the_schedule_runs_the_full_sync_and_the_sensor_follows_the_table_list(tmp_path):
    with instance_for_test() as instance:
        pair, defs, tables, _ = sqlite_run(tmp_path, ntables=2)
        sensor = defs.resolve_sensor_def("t_table_list_sensor")
        resources = {"t_run_dir": pair.run_dir}
        with build_sensor_context(instance=instance, resources=resources) as ctx:
            (add,) = sensor.evaluate_tick(ctx).dynamic_partitions_requests
        assert sorted(add.partition_keys) == sorted(t.qualified for t in tables)
        instance.add_dynamic_partitions("t_tables", list(add.partition_keys) + ["main.gone"])
        (tmp_path / "tables.txt").write_text((tmp_path / "tables.txt").read_text() + "main.later\n")
        with build_sensor_context(instance=instance, resources=resources) as ctx:
            requests = sensor.evaluate_tick(ctx).dynamic_partitions_requests
        assert [list(r.partition_keys) for r in requests] == [["main.later"], ["main.gone"]]
        assert type(requests[1]).__name__ == "DeleteDynamicPartitionsRequest"
        schedule = defs.resolve_schedule_def("t_nightly_drift_repair")
        assert schedule.job_name == "t_full_sync"
        with build_schedule_context(instance=instance,
                                    scheduled_execution_time=dt.datetime(2026, 11, 21, 2, tzinfo=dt.timezone.utc)) as ctx:
            (request,) = schedule.evaluate_tick(ctx).run_requests
        assert request.partition_key is None and request.run_key == "2026-11-21T02:00"


def test_checkpoints_are_observations_not_materializations(tmp_path):
    with instance_for_test() as instance:
        pair, defs, tables, _, _ = migrated(tmp_path, instance, ntables=1, rows=200, window=5)
        (t,) = tables
        r = run(defs, "t_table_sync", instance, partition_key=t.qualified)
        assert r.success, failures(r)
        mats = [x for x in instance.all_logs(r.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
                if x.dagster_event.asset_key == pair.key("table_emit")]
        obs = [x for x in instance.all_logs(r.run_id, of_type=DagsterEventType.ASSET_OBSERVATION)
               if x.dagster_event.asset_key == pair.key("table_emit")]
        assert len(mats) == 1 and len(obs) >= 2   # checkpoint_interval 0: one a window
        assert all(o.dagster_event.event_specific_data.asset_observation.metadata["targetsync/stage"].value
                   == "checkpoint" for o in obs)
        assert AssetKey(["t", "table_emit"]) == pair.key("table_emit")


def test_the_check_executes_on_its_own_and_applies_nothing(tmp_path):
    from dagster import AssetCheckKey
    with instance_for_test() as instance:
        pair, defs, tables, _, _ = migrated(tmp_path, instance, ntables=1)
        (t,) = tables
        before = read_all(SqliteDatabase(str(tmp_path / "target.db")), t)
        r = subset(defs, instance, t.qualified, asset_selection=set(),
                   asset_check_selection={AssetCheckKey(pair.key("table_apply"), "target_matches_source")})
        (check,) = r.get_asset_check_evaluations()
        assert not check.passed and check.partition == t.qualified and "validate only" in check.description
        assert read_all(SqliteDatabase(str(tmp_path / "target.db")), t) == before


def test_table_names_no_asset_key_can_hold_still_load_and_sync(tmp_path):
    """A table named with a space, a hyphen or a letter beyond ASCII (``main.Mixed Case``)
    cannot be a part of an asset's name as it is: the code location used to fail to load.
    Its source asset's key is the name made safe (and told apart by a digest of the
    original); its partition keeps the table's own name, and it syncs."""
    import random

    from targetsync_dagster import build_sync_defs
    from tests.dagster.support import sqlite_pair
    from tests.helpers import create_db, make_pair, random_table
    rng = random.Random(5)
    tables = [random_table(rng, n) for n in ("Mixed Case", "x-y", "été", "Mixed_Case")]
    pairs = {t.name: make_pair(rng, t, 40) for t in tables}
    create_db(tmp_path / "source.db", tables, {n: p[0] for n, p in pairs.items()})
    sqlite3.connect(tmp_path / "target.db").close()
    (tmp_path / "source.dsn").write_text("sqlite:///source.db\n")
    (tmp_path / "target.dsn").write_text("sqlite:///target.db\n")
    (tmp_path / "tables.txt").write_text("".join(f"{t.qualified}\n" for t in tables))
    pair = sqlite_pair(tmp_path)
    defs = build_sync_defs(pair)
    graph = defs.resolve_asset_graph()
    sources = [k for k in graph.get_all_asset_keys() if k.path[1:2] == ["source"]]
    assert sorted(graph.get(k).metadata["dagster/table_name"] for k in sources) == sorted(t.qualified for t in tables)
    assert len({k.path[-1] for k in sources}) == len(tables)
    with instance_for_test() as instance:
        assert run(defs, "t_schema_migration", instance).success
        r = run(defs, "t_full_sync", instance)
        assert r.success, failures(r)
        for t in tables:
            assert same(tmp_path, t)
