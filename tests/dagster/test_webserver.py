"""Against a running ``dagster dev`` (issue 4, done-when 4): a backfill over every table
partition, launched through the webserver's GraphQL endpoint exactly as the UI launches
it, completes with every partition materialized, and the tables converge."""
from __future__ import annotations

import time

import pytest
from dagster import DagsterInstance

from targetsync_core.demo import write_run_dir
from targetsync_dagster.partitions import TABLES
from tests.dagster.webserver import BACKFILL_STATUS, LAUNCH_BACKFILL, PARTITION_STATS, DagsterDev

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


def test_backfill_launched_like_the_ui_materializes_every_partition(server):
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
    assert status in ("COMPLETED", "COMPLETED_SUCCESS"), (status, dev.log.read_text()[-4000:])
    for asset in ("table_emit", "table_apply"):
        stats = dev.graphql(PARTITION_STATS, {"key": {"path": [asset]}})["assetNodeOrError"]["partitionStats"]
        assert stats == {"numMaterialized": 3, "numPartitions": 3, "numFailed": 0}, (asset, stats)
    from targetsync_core import commands, config
    cfg = config.build("validate", config.read_file(str(run / "emit.cfg")), {}, run, run)
    assert commands.run_emit(cfg, write=False).changes == 0
