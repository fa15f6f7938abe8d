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
    assert cfg["run_retries"]["enabled"] is True and cfg["run_retries"]["retry_on_asset_or_op_failure"] is False
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


COMPONENT = """type: targetsync_dagster.TargetSyncComponent
attributes:
{body}"""


def two_pair_project(tmp: Path, src, tgt) -> Path:
    """A dg project of its own with two TargetSyncComponent instances: the SQLite demo pair
    (local) and PostgreSQL → MariaDB (servers), DSNs of the latter from environment variables."""
    from targetsync_core.demo import write_run_dir
    proj = tmp / "proj"
    (proj / "twopairs" / "defs" / "local").mkdir(parents=True)
    (proj / "twopairs" / "defs" / "servers").mkdir(parents=True)
    (proj / "pyproject.toml").write_text('[project]\nname = "twopairs"\nversion = "0.1"\n\n[tool.dg]\n'
                                         'directory_type = "project"\n\n[tool.dg.project]\nroot_module = "twopairs"\n')
    (proj / "twopairs" / "__init__.py").write_text("")
    (proj / "twopairs" / "defs" / "__init__.py").write_text("")
    (proj / "twopairs" / "definitions.py").write_text(   # what `dg scaffold project` writes
        "from pathlib import Path\n\nimport dagster as dg\n\n\n@dg.definitions\ndef defs():\n"
        "    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)\n")
    write_run_dir(proj / "local", 300)
    (proj / "twopairs" / "defs" / "local" / "defs.yaml").write_text(COMPONENT.format(body="""  name: local
  source: {type: sqlite, dsn_file: local/source.dsn}
  target: {type: sqlite, dsn_file: local/target.dsn}
  run_dir: local/run
  table_file: local/tables.txt
  window_size: 50
  owners: [team:data-platform]
  tags: {tier: demo}
"""))
    src.execute("CREATE TABLE orders (id int PRIMARY KEY, amount numeric(10,2)); "
                "INSERT INTO orders SELECT g, g / 4.0 FROM generate_series(1, 300) g")
    (proj / "servers.txt").write_text("public.orders\n")
    (proj / "twopairs" / "defs" / "servers" / "defs.yaml").write_text(COMPONENT.format(body=f"""  name: servers
  description: orders DB into the warehouse
  source: {{type: postgres, dsn_env: TS_TWO_SOURCE}}
  target: {{type: mariadb, dsn_env: TS_TWO_TARGET}}
  table_file: servers.txt
  schema_rename: "public:{tgt.schema}"
  schedule: null
"""))
    return proj


def test_two_component_instances_load_side_by_side_and_each_syncs(tmp_path, monkeypatch):
    from dagster import instance_for_test, load_from_defs_folder

    from tests.conformance.backends import BACKENDS
    from tests.dagster.support import QUIET
    with BACKENDS["postgres"](tmp_path, "s") as src, BACKENDS["mariadb"](tmp_path, "t") as tgt:
        proj = two_pair_project(tmp_path, src, tgt)
        e = {**env(), "TS_TWO_SOURCE": src.url, "TS_TWO_TARGET": tgt.url, "PYTHONPATH": str(proj)}
        for args in (["check", "defs"], ["list", "defs"]):
            r = subprocess.run([str(BIN / "dg"), *args], cwd=proj, env=e, capture_output=True, text=True,
                               timeout=300)
            assert r.returncode == 0, r.stdout + r.stderr
        listed = r.stdout
        for text in ("local/table_apply", "servers/table_apply", "local_full_sync", "servers_full_sync",
                     "local/source/main.customers", "servers/source/public.orders"):
            assert text in listed.replace("\n", " ") or text.replace("/", "/\n") in listed, (text, listed[-3000:])
        monkeypatch.setenv("TS_TWO_SOURCE", src.url)
        monkeypatch.setenv("TS_TWO_TARGET", tgt.url)
        monkeypatch.syspath_prepend(str(proj))
        monkeypatch.chdir(proj)
        defs = load_from_defs_folder(path_within_project=proj)
        graph = defs.resolve_asset_graph()
        from dagster import AssetKey
        assert graph.get(AssetKey(["servers", "table_apply"])).kinds == {"targetsync", "mariadb"}
        assert graph.get(AssetKey(["local", "table_apply"])).owners == ["team:data-platform"]
        assert AssetKey(["servers", "table_emit"]) in graph.get(AssetKey(["servers", "source", "public.orders"])).child_keys
        with instance_for_test() as instance:
            for pair in ("local", "servers"):
                for job in (f"{pair}_schema_migration", f"{pair}_full_sync"):
                    r = defs.resolve_job_def(job).execute_in_process(instance=instance, run_config=QUIET,
                                                                     raise_on_error=False)
                    assert r.success, (job, [x.event_specific_data.error.message for x in r.all_events
                                             if x.event_type_value == "STEP_FAILURE"])
            assert set(instance.get_dynamic_partitions("local_tables")) == {"main.customers", "main.orders",
                                                                            "main.tags"}
            assert instance.get_dynamic_partitions("servers_tables") == ["public.orders"]
        conn = tgt._mysql()
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*), sum(amount) FROM `{tgt.schema}`.`orders`")
            assert cur.fetchone()[0] == 300
        conn.close()
