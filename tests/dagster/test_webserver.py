"""Against a running ``dagster dev`` (issues 4 and 19): a full-sync backfill of 50 tables,
launched through the webserver's GraphQL endpoint exactly as the UI launches it, completes
in ⌈50 / max_partitions_per_run⌉ runs with every partition materialized and every check
recorded, and the tables converge; then a real headless Chromium shows the asset graph and
a partition's page with its check and its table's name."""
from __future__ import annotations

import math
import os
import sqlite3
import time
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, RunsFilter

from targetsync_core import commands
from targetsync_core.adapters.sqlite import SqliteDatabase
from targetsync_core.model import skt
from tests.dagster.webserver import BACKFILL_STATUS, LAUNCH_BACKFILL, PARTITION_STATS, DagsterDev
from tests.helpers import ROOT

ARTIFACTS = Path(os.environ.get("TARGETSYNC_ARTIFACTS", ROOT / "test-artifacts"))
TABLE_NAMES = [f"main.t{i:02d}" for i in range(50)]
PER_RUN = 10


def fifty_tables(run: Path) -> None:
    """A SQLite source of 50 small tables and a drifted target of the same tables."""
    run.mkdir(parents=True)
    for side in ("source", "target"):
        conn = sqlite3.connect(run / f"{side}.db")
        for i in range(50):
            conn.execute(f"CREATE TABLE t{i:02d} (id INTEGER NOT NULL PRIMARY KEY, v TEXT)")
            rows = [(k, f"v{k}" if side == "source" or k % 7 else "old") for k in range(20 + i) if side == "source" or k % 5]
            conn.executemany(f"INSERT INTO t{i:02d} VALUES (?, ?)", rows)
        conn.commit()
        conn.close()
        (run / f"{side}.dsn").write_text(f"sqlite:///{side}.db\n")
    (run / "tables.txt").write_text("".join(f"{n}\n" for n in TABLE_NAMES))
    skt.write(run / "schema.skt", commands.extract_schema(SqliteDatabase(str(run / "source.db")), TABLE_NAMES))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dagster")
    run = tmp / "run"
    fifty_tables(run)
    home = tmp / "home"
    dev = DagsterDev(home, {"TARGETSYNC_RUN_DIR": str(run), "TARGETSYNC_WINDOW_SIZE": "50",
                            "TARGETSYNC_FILE_TARGET_MB": "0.01", "TARGETSYNC_PARTITIONS_PER_RUN": str(PER_RUN)},
                     tmp / "dagster-dev.log")
    dev.start()  # creates the instance's storage under home
    instance = DagsterInstance.from_config(str(home))
    instance.add_dynamic_partitions("demo_tables", TABLE_NAMES)
    try:
        yield dev, run, instance
    finally:
        dev.stop()
        assert dev.proc.poll() is not None, "dagster dev still running after stop"


@pytest.fixture(scope="module")
def backfilled(server):
    dev, run, instance = server
    params = {"assetSelection": [{"path": ["demo", "table_emit"]}, {"path": ["demo", "table_apply"]}],
              "partitionNames": TABLE_NAMES, "fromFailure": False, "tags": [],
              "title": "targetsync test backfill", "description": None}
    launched = dev.graphql(LAUNCH_BACKFILL, {"backfillParams": params})["launchPartitionBackfill"]
    assert "backfillId" in launched, launched
    status, deadline = None, time.time() + 900
    while time.time() < deadline:
        b = dev.graphql(BACKFILL_STATUS, {"backfillId": launched["backfillId"]})["partitionBackfillOrError"]
        status = b.get("status")
        if status in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
            break
        time.sleep(2)
    return dev, run, instance, status, launched["backfillId"]


def test_a_backfill_of_50_tables_runs_a_few_runs_and_records_every_partition(backfilled):
    dev, run, instance, status, backfill = backfilled
    assert status in ("COMPLETED", "COMPLETED_SUCCESS"), (status, dev.log.read_text()[-4000:])
    runs = instance.get_runs(filters=RunsFilter(tags={"dagster/backfill": backfill}))
    assert len(runs) <= math.ceil(len(TABLE_NAMES) / PER_RUN), len(runs)
    for asset in ("table_emit", "table_apply"):
        stats = dev.graphql(PARTITION_STATS, {"key": {"path": ["demo", asset]}})["assetNodeOrError"]["partitionStats"]
        assert stats == {"numMaterialized": 50, "numPartitions": 50, "numFailed": 0}, (asset, stats)
    checked = {r.dagster_event.event_specific_data.partition: r.dagster_event.event_specific_data.passed
               for x in runs for r in instance.all_logs(x.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
               if r.dagster_event.event_specific_data.partition}
    assert checked == {n: True for n in TABLE_NAMES}
    src, tgt = SqliteDatabase(str(run / "source.db")), SqliteDatabase(str(run / "target.db"))
    check = commands.make_emitter(src, tgt, TABLE_NAMES, skt.read(run / "schema.skt"), {},
                                  commands.EmitSettings()).run()
    assert check.changes == 0


def test_browser_shows_the_graph_and_a_partitions_check_with_its_table(backfilled):
    from tests.dagster.browser import chromium_page
    dev = backfilled[0]
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with chromium_page() as page:
        page.goto(f"{dev.url}/locations/targetsync/asset-groups/demo/lineage", wait_until="networkidle")
        for name in ("source_schema", "table_emit", "table_apply"):
            page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
        page.screenshot(path=str(shots / "demo-graph.png"))
        graph = page.inner_text("body")
        page.goto(f"{dev.url}/assets/demo/table_apply?view=partitions&partition=main.t07", wait_until="networkidle")
        page.get_by_text("differences after apply").first.wait_for(timeout=60_000)
        partition = page.inner_text("body")
        page.screenshot(path=str(shots / "table_apply-partition.png"))
        page.goto(f"{dev.url}/assets/demo/table_apply?view=checks", wait_until="networkidle")
        page.get_by_text("difference(s) after apply").first.wait_for(timeout=60_000)
        checks = page.inner_text("body")
        page.screenshot(path=str(shots / "table_apply-check.png"))
    assert "main.t07" in partition and "dagster/table_name" in partition and "differences after apply" in partition
    # the check's latest result names its table and its partition (not "Partition —")
    assert "target_matches_source" in checks and "Partition\n—" not in checks
    assert any(f"{n} → {n}: 0 difference(s) after apply" in checks for n in TABLE_NAMES), checks[-1500:]
    assert "source_schema" in graph and "table_apply" in graph
    assert all((shots / f).stat().st_size > 10_000 for f in ("demo-graph.png", "table_apply-partition.png",
                                                               "table_apply-check.png"))
