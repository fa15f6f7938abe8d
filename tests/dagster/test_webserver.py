"""Against a running ``dagster dev`` (issue 4, done-when 4 and 5): a backfill over every
table partition, launched through the webserver's GraphQL endpoint exactly as the UI
launches it, completes with every partition materialized and the tables converged; then
a real headless Chromium shows the asset graph and the partitioned asset's page."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance

from targetsync_core.demo import write_run_dir
from targetsync_dagster.partitions import TABLES
from tests.dagster.webserver import BACKFILL_STATUS, LAUNCH_BACKFILL, PARTITION_STATS, DagsterDev
from tests.helpers import ROOT

ARTIFACTS = Path(os.environ.get("TARGETSYNC_ARTIFACTS", ROOT / "test-artifacts"))

TABLE_NAMES = ["main.customers", "main.orders", "main.tags"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dagster")
    run = tmp / "run"
    write_run_dir(run, 400)
    home = tmp / "home"
    dev = DagsterDev(home, {"TARGETSYNC_RUN_DIR": str(run), "TARGETSYNC_WINDOW_SIZE": "50",
                            "TARGETSYNC_FILE_TARGET_MB": "0.01"}, tmp / "dagster-dev.log")
    dev.start()  # creates the instance's storage under home
    instance = DagsterInstance.from_config(str(home))
    instance.add_dynamic_partitions(TABLES.name, TABLE_NAMES)
    try:
        yield dev, run
    finally:
        dev.stop()
        assert dev.proc.poll() is not None, "dagster dev still running after stop"


@pytest.fixture(scope="module")
def backfilled(server):
    dev, run = server
    params = {"assetSelection": [{"path": ["table_emit"]}, {"path": ["table_apply"]}],
              "partitionNames": TABLE_NAMES, "fromFailure": False, "tags": [],
              "title": "targetsync test backfill", "description": None}
    launched = dev.graphql(LAUNCH_BACKFILL, {"backfillParams": params})["launchPartitionBackfill"]
    assert "backfillId" in launched, launched
    status, deadline = None, time.time() + 600
    while time.time() < deadline:
        b = dev.graphql(BACKFILL_STATUS, {"backfillId": launched["backfillId"]})["partitionBackfillOrError"]
        status = b.get("status")
        if status in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"):
            break
        time.sleep(2)
    return dev, run, status


def test_backfill_launched_like_the_ui_materializes_every_partition(backfilled):
    dev, run, status = backfilled
    assert status in ("COMPLETED", "COMPLETED_SUCCESS"), (status, dev.log.read_text()[-4000:])
    for asset in ("table_emit", "table_apply"):
        stats = dev.graphql(PARTITION_STATS, {"key": {"path": [asset]}})["assetNodeOrError"]["partitionStats"]
        assert stats == {"numMaterialized": 3, "numPartitions": 3, "numFailed": 0}, (asset, stats)
    from targetsync_core import commands, config
    cfg = config.build("validate", config.read_file(str(run / "emit.cfg")), {}, run, run)
    assert commands.run_emit(cfg, write=False).changes == 0


def test_browser_shows_the_asset_graph_and_partition_statuses(backfilled):
    from tests.dagster.browser import chromium_page
    dev, _, _ = backfilled
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with chromium_page() as page:
        page.goto(f"{dev.url}/locations/targetsync/asset-groups/schema/lineage", wait_until="networkidle")
        for name in ("source_schema", "target_ddl", "target_ddl_applied"):
            page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
        page.screenshot(path=str(shots / "schema-graph.png"))
        page.goto(f"{dev.url}/locations/targetsync/asset-groups/tables/lineage", wait_until="networkidle")
        for name in ("table_emit", "table_apply"):
            page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
        page.get_by_text("100% filled").first.wait_for(timeout=60_000)
        graph = page.inner_text("body")
        page.screenshot(path=str(shots / "tables-graph.png"))
        page.goto(f"{dev.url}/assets/table_emit?view=partitions", wait_until="networkidle")
        page.get_by_text("Materialized (3)").first.wait_for(timeout=60_000)
        partitions = page.inner_text("body")
        page.screenshot(path=str(shots / "table_emit-partitions.png"))
    assert graph.count("100% filled") == 2 and graph.count("3 partitions") == 2 and "1 / 1 Passed" in graph
    assert "Missing (0)" in partitions and "Failed (0)" in partitions
    assert all(key in partitions for key in TABLE_NAMES)
    assert all((shots / f).stat().st_size > 10_000 for f in ("schema-graph.png", "tables-graph.png",
                                                               "table_emit-partitions.png"))
