"""Both loaders of the code location work: ``dg check defs`` ([tool.dg]) is clean and
``workspace.yaml`` validates; the local instance settings are what the README says."""
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers import ROOT

BIN = Path(sys.executable).parent


def env():
    return {**os.environ, "VIRTUAL_ENV": str(BIN.parent), "PATH": f"{BIN}:{os.environ['PATH']}",
            "DAGSTER_HOME": str(ROOT / "dagster_home")}


def test_dg_check_defs_is_clean():
    r = subprocess.run([str(BIN / "dg"), "check", "defs"], cwd=ROOT, env=env(), capture_output=True, text=True,
                       timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "All definitions loaded successfully" in out and "warning" not in out.lower()


def test_workspace_yaml_loads_the_code_location():
    r = subprocess.run([str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"], cwd=ROOT,
                       env=env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "targetsync" in r.stdout + r.stderr


def test_local_instance_settings():
    cfg = yaml.safe_load((ROOT / "dagster_home" / "dagster.yaml").read_text())
    assert cfg["telemetry"]["enabled"] is False and cfg["nux"]["enabled"] is False
    assert cfg["run_retries"]["enabled"] is True
    assert cfg["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
    assert cfg["concurrency"]["pools"]["default_limit"] >= 1


def test_the_run_queue_holds_one_run_per_table_partition(monkeypatch):
    """The instance (as Dagster loads it) queues a second run of a partition behind the
    first; tests/dagster/test_concurrent_runs.py shows the lock beneath it."""
    from dagster import DagsterInstance
    monkeypatch.setenv("DAGSTER_HOME", str(ROOT / "dagster_home"))
    with DagsterInstance.get() as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
