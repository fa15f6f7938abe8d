"""A failure after window k fails the run; re-executing it from failure resumes at window
k+1 — no window before it is read or emitted again — and the table converges (issue 4,
done-when 2)."""
import os

from dagster import DagsterEventType, Definitions, ReexecutionOptions, execute_job, instance_for_test, reconstructable

from targetsync_core.adapters.sqlite import SqliteDatabase
from tests.dagster.support import ASSETS, SCHEMA_ASSETS, drift_target, sqlite_run
from tests.helpers import canon_row, read_all

K = 4                    # fail right after window K
STATE = {"fail": False, "reads": [], "plans": 0, "phase": "emit"}


def table_sync_job():
    """Module level, so Dagster can reconstruct the job for re-execution."""
    from pathlib import Path

    from targetsync_dagster.schedules import table_sync
    resources = resources_for(Path(os.environ["TS_TEST_DIR"]))
    return Definitions(assets=ASSETS, jobs=[table_sync], resources=resources).resolve_job_def("table_sync")


def resources_for(tmp):
    from targetsync_dagster.resources import DatabaseResource, RunDirectory
    return {"source": DatabaseResource(type="sqlite", dsn_file=str(tmp / "source.dsn")),
            "target": DatabaseResource(type="sqlite", dsn_file=str(tmp / "target.dsn")),
            "run_dir": RunDirectory(path=str(tmp / "run"), table_file=str(tmp / "tables.txt"), window_size=5,
                                    max_threads=2, emit_file_target_mb=0.001)}


def emit_materializations(instance, run_id) -> list[dict]:
    """The metadata of every table_emit materialization a run recorded, in order."""
    out = []
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        mat = record.dagster_event.event_specific_data.materialization
        if mat.asset_key.to_user_string() == "table_emit":
            out.append(mat.metadata)
    return out


def spy(monkeypatch, source_path: str):
    real_window, real_bounds = SqliteDatabase.read_window, SqliteDatabase.window_bounds

    def read_window(self, table, window):
        if self.path == source_path and STATE["phase"] == "emit":
            STATE["reads"].append(window.index)
            if STATE["fail"] and window.index == K + 1:
                raise RuntimeError(f"injected failure after window {K}")
        return real_window(self, table, window)

    def window_bounds(self, table, size):  # planning: the key scan that cuts the windows
        if self.path == source_path and STATE["phase"] == "emit":
            STATE["plans"] += 1
        return real_bounds(self, table, size)

    import targetsync_dagster.assets as assets
    real_apply = assets.commands.apply_changes

    def apply_changes(*a, **k):  # the apply step (and its validating check) starts here
        STATE["phase"] = "apply"
        return real_apply(*a, **k)

    monkeypatch.setattr(SqliteDatabase, "read_window", read_window)
    monkeypatch.setattr(SqliteDatabase, "window_bounds", window_bounds)
    monkeypatch.setattr(assets.commands, "apply_changes", apply_changes)


def test_failed_partition_resumes_after_the_last_finished_window(tmp_path, monkeypatch):
    from dagster import materialize
    resources, tables, pairs = sqlite_run(tmp_path, ntables=1, rows=150, window=5)
    monkeypatch.setenv("TS_TEST_DIR", str(tmp_path))
    (table,) = tables
    spy(monkeypatch, str(tmp_path / "source.db"))
    with instance_for_test() as instance:
        assert materialize(ASSETS, selection=SCHEMA_ASSETS, resources=resources, instance=instance).success
        drift_target(tmp_path, tables, pairs)
        STATE.update(fail=True, reads=[], plans=0, phase="emit")
        job = reconstructable(table_sync_job)
        first = execute_job(job, instance, tags={"dagster/partition": table.qualified})
        assert not first.success
        assert STATE["plans"] == 1 and K + 1 in STATE["reads"]
        checkpoints = [m["window"].value for m in emit_materializations(instance, first.run_id)]
        assert checkpoints[-1] == K and sorted(checkpoints) == list(range(K + 1))

        STATE.update(fail=False, reads=[], plans=0, phase="emit")
        # as the UI's "re-execute from failure" does: same job, the parent run's tags
        second = execute_job(job, instance, tags=instance.get_run_by_id(first.run_id).tags,
                             reexecution_options=ReexecutionOptions.from_failure(first.run_id, instance))
        assert second.success
        assert STATE["plans"] == 0, "the table was planned (its keys read) again"
        assert STATE["reads"] and min(STATE["reads"]) == K + 1, f"windows read again: {sorted(STATE['reads'])}"
        emitted = emit_materializations(instance, second.run_id)
        windows = [m["window"].value for m in emitted if m["targetsync/stage"].value == "checkpoint"]
        assert min(windows) == K + 1
        final = {k: v.value for k, v in emitted[-1].items()}
        assert final["targetsync/stage"] == "complete" and final["windows"] == max(windows) + 1
        assert final["source_rows"] == len(pairs[table.name][0])
        (check,) = [r.dagster_event for r in instance.all_logs(second.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)]
        assert check.event_specific_data.passed
    src, tgt = SqliteDatabase(str(tmp_path / "source.db")), SqliteDatabase(str(tmp_path / "target.db"))
    assert [canon_row(table, x) for x in read_all(src, table)] == [canon_row(table, x) for x in read_all(tgt, table)]
