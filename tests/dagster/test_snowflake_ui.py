"""A TargetSyncComponent instance syncing SQLite → Snowflake (fakesnow, the conformance
stand-in) in a real ``dagster dev`` (issue 24): its schema migration launched over the
webserver's GraphQL as the UI launches it, its full sync launched by clicking the
Launchpad's button in headless Chromium; the target's rows are then read afresh through
the Snowflake connector and equal the source's."""
from __future__ import annotations

import sqlite3
import time
from decimal import Decimal

from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.dagster.webserver import DagsterDev

LAUNCH_RUN = """mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""

RUNS = """query Runs($job: String!) {
  runsOrError(filter: {pipelineName: $job}) { ... on Runs { results { runId status } } }
}"""

LOCATION = "sfpair"
SOURCE_ROWS = {"orders": [(i, f"order {i}", f"{i / 4:.2f}") for i in range(1, 301)],
               "MixedCase": [(i, '{"n": %d, "tags": ["a", "b"]}' % i) for i in range(1, 41)]}


def project(tmp, target_schema: str):
    """A dg project of its own with one component instance, the target's DSN from the
    environment, and a workspace.yaml loading it."""
    proj = tmp / "proj"
    (proj / LOCATION / "defs" / "sf").mkdir(parents=True)
    (proj / LOCATION / "__init__.py").write_text("")
    (proj / LOCATION / "defs" / "__init__.py").write_text("")
    (proj / LOCATION / "definitions.py").write_text(
        "from pathlib import Path\n\nimport dagster as dg\n\n\n@dg.definitions\ndef defs():\n"
        "    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent.parent)\n")
    (proj / "pyproject.toml").write_text(f'[project]\nname = "{LOCATION}"\nversion = "0.1"\n\n[tool.dg]\n'
                                         f'directory_type = "project"\n\n[tool.dg.project]\nroot_module = "{LOCATION}"\n')
    conn = sqlite3.connect(proj / "source.db")
    conn.execute("CREATE TABLE orders (id INTEGER NOT NULL PRIMARY KEY, note VARCHAR(40), amount DECIMAL(10,2))")
    conn.execute('CREATE TABLE "MixedCase" (id INTEGER NOT NULL PRIMARY KEY, doc JSON)')
    for name, rows in SOURCE_ROWS.items():
        conn.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(rows[0]))})', rows)
    conn.commit()
    conn.close()
    (proj / "source.dsn").write_text("sqlite:///source.db\n")
    (proj / "tables.txt").write_text("main.orders\nmain.MixedCase\n")
    (proj / LOCATION / "defs" / "sf" / "defs.yaml").write_text(f"""type: targetsync_dagster.TargetSyncComponent
attributes:
  name: sf
  description: SQLite into Snowflake
  source: {{type: sqlite, dsn_file: source.dsn}}
  target: {{type: snowflake, dsn_env: TS_SF_TARGET}}
  table_file: tables.txt
  schema_rename: "main:{target_schema}"
  window_size: 64
  schedule: null
""")
    (proj / "workspace.yaml").write_text(f"load_from:\n  - python_module:\n      module_name: {LOCATION}.definitions\n"
                                         f"      working_directory: {proj}\n      location_name: {LOCATION}\n")
    return proj


def wait_for_run(dev: DagsterDev, job: str, timeout: float = 120) -> str:
    deadline = time.time() + timeout
    status = None
    while time.time() < deadline:
        runs = dev.graphql(RUNS, {"job": job})["runsOrError"]["results"]
        status = runs[0]["status"] if runs else None
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(1)
    return status


def test_a_component_syncs_sqlite_into_snowflake_launched_from_the_ui(tmp_path):
    from tests.conformance.cloud.snowflake import backend
    from tests.dagster.browser import chromium_page
    with backend(tmp_path, "tgt") as tgt:
        proj = project(tmp_path, tgt.schema)
        dev = DagsterDev(tmp_path / "home", {"TS_SF_TARGET": tgt.url, "PYTHONPATH": str(proj)},
                         tmp_path / "dagster-dev.log", workspace=proj / "workspace.yaml")
        try:
            dev.start()   # stopped below even when it fails to load the code location
            selector = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                        "jobName": "sf_schema_migration"}
            launched = dev.graphql(LAUNCH_RUN, {"executionParams": {"selector": selector, "runConfigData": {},
                                                                    "mode": "default"}})["launchRun"]
            assert launched["__typename"] == "LaunchRunSuccess", launched
            assert wait_for_run(dev, "sf_schema_migration") == "SUCCESS", dev.log.read_text()[-3000:]
            with chromium_page() as page:
                page.goto(f"{dev.url}/locations/{LOCATION}/jobs/sf_full_sync/playground", wait_until="networkidle")
                page.get_by_role("button", name="Launch Run").click(timeout=60_000)
                assert wait_for_run(dev, "sf_full_sync") == "SUCCESS", dev.log.read_text()[-3000:]
                page.goto(f"{dev.url}/assets/sf/table_apply", wait_until="networkidle")
                page.get_by_text("snowflake", exact=False).first.wait_for(timeout=60_000)
                shown = page.inner_text("body")
        finally:
            dev.stop()
        assert "snowflake" in shown.lower()
        orders = Table(tgt.schema, "orders", (Column("id", Kind.INT64, False), Column("note", Kind.VARCHAR),
                                              Column("amount", Kind.DECIMAL)), ("id",))
        mixed = Table(tgt.schema, "MixedCase", (Column("id", Kind.INT64, False), Column("doc", Kind.JSON)), ("id",))
        assert tgt.read(orders) == [(i, n, Decimal(a)) for i, n, a in SOURCE_ROWS["orders"]]
        assert tgt.read(mixed) == [(i, '{"n": %d, "tags": ["a", "b"]}' % i) for i, _ in SOURCE_ROWS["MixedCase"]]
