"""A failure after window k of a 200-window table fails the run; re-executing it from
failure resumes at window k+1 — no window before it is read or emitted again — and the
table converges. Checkpoints are observations at most every ``checkpoint_interval``
seconds: the run's event log holds at most ⌈run time / interval⌉ + 2 of them (issues 4
and 19)."""
import math
import os
from pathlib import Path

from dagster import DagsterEventType, ReexecutionOptions, execute_job, instance_for_test, reconstructable

from targetsync_core.adapters.sqlite import SqliteDatabase
from tests.dagster.support import QUIET, drift_target, run, sqlite_pair, sqlite_run
from tests.helpers import canon_row, read_all

K = 120                  # fail right after window K
INTERVAL = 0.2           # seconds between checkpoints
STATE = {"fail": False, "reads": [], "plans": 0, "phase": "emit"}


def table_sync_job():
    """Module level, so Dagster can reconstruct the job for re-execution."""
    from targetsync_dagster import build_sync_defs
    pair = sqlite_pair(Path(os.environ["TS_TEST_DIR"]), window=5, checkpoint_interval=INTERVAL)
    return build_sync_defs(pair).resolve_job_def("t_table_sync")


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

    import targetsync_dagster.tables as tables
    real_apply = tables.commands.apply_changes

    def apply_changes(*a, **k):  # the apply step (and its validating check) starts here
        STATE["phase"] = "apply"
        return real_apply(*a, **k)

    monkeypatch.setattr(SqliteDatabase, "read_window", read_window)
    monkeypatch.setattr(SqliteDatabase, "window_bounds", window_bounds)
    monkeypatch.setattr(tables.commands, "apply_changes", apply_changes)


def checkpoints(instance, run_id) -> list[dict]:
    return [{k: v.value for k, v in r.dagster_event.event_specific_data.asset_observation.metadata.items()}
            for r in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_OBSERVATION)]


def duration(instance, run_id) -> float:
    stamps = [r.timestamp for r in instance.all_logs(run_id)]
    return max(stamps) - min(stamps)


def test_failed_partition_resumes_after_the_last_window_and_checkpoints_stay_few(tmp_path, monkeypatch):
    pair, defs, tables, pairs = sqlite_run(tmp_path, ntables=1, rows=1100, window=5, checkpoint_interval=INTERVAL)
    monkeypatch.setenv("TS_TEST_DIR", str(tmp_path))
    (table,) = tables
    spy(monkeypatch, str(tmp_path / "source.db"))
    with instance_for_test() as instance:
        assert run(defs, "t_schema_migration", instance).success
        drift_target(tmp_path, tables, pairs)
        STATE.update(fail=True, reads=[], plans=0, phase="emit")
        job = reconstructable(table_sync_job)
        first = execute_job(job, instance, tags={"dagster/partition": table.qualified}, run_config=QUIET)
        assert not first.success
        assert STATE["plans"] == 1 and K + 1 in STATE["reads"]
        seen = checkpoints(instance, first.run_id)
        assert seen and all(c["targetsync/stage"] == "checkpoint" for c in seen)
        assert len(seen) <= math.ceil(duration(instance, first.run_id) / INTERVAL) + 2, len(seen)
        assert max(c["targetsync/window"] for c in seen) <= K

        STATE.update(fail=False, reads=[], plans=0, phase="emit")
        # as the UI's "re-execute from failure" does: same job, the parent run's tags
        second = execute_job(job, instance, tags=instance.get_run_by_id(first.run_id).tags, run_config=QUIET,
                             reexecution_options=ReexecutionOptions.from_failure(first.run_id, instance))
        assert second.success
        assert STATE["plans"] == 0, "the table was planned (its keys read) again"
        assert STATE["reads"] and min(STATE["reads"]) == K + 1, f"windows read again: {sorted(STATE['reads'])[:5]}"
        assert len(checkpoints(instance, second.run_id)) <= math.ceil(duration(instance, second.run_id) / INTERVAL) + 2
        mats = [r.dagster_event.event_specific_data.materialization for r in
                instance.all_logs(second.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)]
        final = {k: v.value for k, v in next(m for m in mats if m.asset_key == pair.key("table_emit")).metadata.items()}
        assert final["targetsync/stage"] == "complete" and final["targetsync/resumed"] is True
        n = len(pairs[table.name][0])
        assert final["windows"] == (n - 1) // 5 + 1 >= 200 and final["source rows"] == n
        (check,) = [r.dagster_event for r in instance.all_logs(second.run_id,
                                                                of_type=DagsterEventType.ASSET_CHECK_EVALUATION)]
        assert check.event_specific_data.passed
    src, tgt = SqliteDatabase(str(tmp_path / "source.db")), SqliteDatabase(str(tmp_path / "target.db"))
    assert [canon_row(table, x) for x in read_all(src, table)] == [canon_row(table, x) for x in read_all(tgt, table)]
