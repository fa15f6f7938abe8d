"""Two Dagster runs of one table partition at once (issue 6, concurrency): each run is a
``dagster job execute`` process of its own over one shared instance, as the UI, a
schedule and a backfill would launch them. The first run is held at a fault point, in its
emit or in its apply step; the second is then refused on one line by the lock the first
holds (``emit.lock`` while it emits, ``load.lock`` while it applies), touches nothing,
and the first run finishes with its check passed. A deployment's run queue keeps this
from happening at all (one run per ``dagster/partition`` tag; see dagster_home); this is
the guard beneath it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from targetsync_core.adapters.sqlite import SqliteDatabase
from tests.dagster.support import drift_target, sqlite_run
from tests.helpers import ROOT, canon_row, read_all


def job(tmp_path, name: str, partition: str | None = None, **env) -> subprocess.Popen:
    args = [sys.executable, "-m", "dagster", "job", "execute", "-m", "targetsync_dagster.definitions", "-j", name]
    if partition:
        args += ["--tags", json.dumps({"dagster/partition": partition})]
    base = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            "TARGETSYNC_RUN_DIR": str(tmp_path / "run"), "TARGETSYNC_TABLE_FILE": str(tmp_path / "tables.txt"),
            "TARGETSYNC_SOURCE_DSN_FILE": str(tmp_path / "source.dsn"),
            "TARGETSYNC_TARGET_DSN_FILE": str(tmp_path / "target.dsn"), "TARGETSYNC_WINDOW_SIZE": "5",
            "TARGETSYNC_MAX_THREADS": "2", "TARGETSYNC_FILE_TARGET_MB": "0.001"}
    return subprocess.Popen(args, cwd=tmp_path, env={**base, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def step_failures(instance, run_id: str) -> list[str]:
    return [r.dagster_event.event_specific_data.error.message
            for r in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)]


@pytest.mark.parametrize("held_at,refusal", [("emit.after_publish:2", "in use by another emitter"),
                                             ("load.before_commit:2", "being applied by a loader")],
                         ids=["first-run-emitting", "first-run-applying"])
def test_a_second_run_of_a_partition_is_refused_while_the_first_runs(tmp_path, monkeypatch, held_at, refusal):
    _, _, tables, pairs = sqlite_run(tmp_path, ntables=1, rows=300, window=5)
    (table,) = tables
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    schema = job(tmp_path, "demo_schema_migration")
    out, _ = schema.communicate(timeout=300)
    assert schema.returncode == 0, out
    drift_target(tmp_path, tables, pairs)

    flag, go = tmp_path / "paused", tmp_path / "go"
    first = job(tmp_path, "demo_table_sync", table.qualified, TARGETSYNC_PAUSE_AT=f"{held_at}:240",
                TARGETSYNC_PAUSE_FLAG=str(flag), TARGETSYNC_PAUSE_UNTIL=str(go))
    try:
        while first.poll() is None and not flag.exists():
            time.sleep(0.05)
        assert flag.exists(), first.communicate()[0]
        emit_dir = tmp_path / "run" / "tables" / table.qualified / "emit"
        before = {p.name: p.read_bytes() for p in emit_dir.iterdir() if not p.name.endswith(".lock")}
        second = job(tmp_path, "demo_table_sync", table.qualified)
        out2, _ = second.communicate(timeout=300)
        assert second.returncode != 0, out2
        assert {p.name: p.read_bytes() for p in emit_dir.iterdir() if not p.name.endswith(".lock")} == before
    finally:
        go.touch()
    out1, _ = first.communicate(timeout=300)
    assert first.returncode == 0, out1

    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as instance:
        runs = [r for r in instance.get_runs() if r.tags.get("dagster/partition") == table.qualified]
        assert sorted(r.status.value for r in runs) == ["FAILURE", "SUCCESS"]
        (failed,) = [r for r in runs if r.status == DagsterRunStatus.FAILURE]
        (message,) = step_failures(instance, failed.run_id)
        assert refusal in message and str(emit_dir) in message, message
        assert message.count("\n") <= 1 and "Traceback" not in message, message
        (won,) = [r for r in runs if r.status == DagsterRunStatus.SUCCESS]
        (check,) = [r.dagster_event for r in instance.all_logs(won.run_id,
                                                                of_type=DagsterEventType.ASSET_CHECK_EVALUATION)]
        assert check.event_specific_data.passed
    src, tgt = SqliteDatabase(str(tmp_path / "source.db")), SqliteDatabase(str(tmp_path / "target.db"))
    assert [canon_row(table, x) for x in read_all(src, table)] == [canon_row(table, x) for x in read_all(tgt, table)]
