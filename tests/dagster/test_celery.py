"""Scale-out on real services (issue 22): a Dagster instance on the local PostgreSQL
(``deploy/dagster.yaml`` as it is, in a database of its own), two Celery workers on the
local RabbitMQ (``deploy/celery.yaml``, results in Redis; a queue of the test's own),
started as subprocesses and stopped by PID, and ``dagster dev`` (webserver and daemon).
The distributed sync of 20 tables from PostgreSQL to MariaDB is launched through the
webserver's GraphQL endpoint: every table converges, and the steps ran in both workers; a
worker killed mid-apply hands its step to the other with nothing applied twice; a pool of
one runs one step at a time across both workers."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS
from tests.dagster.webserver import DagsterDev
from tests.helpers import ROOT
from tests.servers import postgres_database, unreachable

BIN = Path(sys.executable).parent
BROKER = os.environ.get("TARGETSYNC_TEST_CELERY_BROKER", "pyamqp://guest:guest@127.0.0.1:5672//")
BACKEND = os.environ.get("TARGETSYNC_TEST_CELERY_BACKEND", "redis://127.0.0.1:6379/0")
TABLES = 20

LAUNCH = """mutation Launch($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PipelineNotFoundError { message }
    ... on PythonError { message stack }
  }
}"""
STATUS = """query Status($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }"""

PROJECT = '''
import dagster as dg
from targetsync_dagster.resources import DatabaseResource, RunDirectory
from targetsync_dagster.sync import SyncPair, build_sync_defs

defs = build_sync_defs(SyncPair(
    name="wide", schedule=None, executor="celery", celery_queue={queue!r},
    source=DatabaseResource(type="postgres", dsn=dg.EnvVar("TS_WIDE_SOURCE")),
    target=DatabaseResource(type="mariadb", dsn=dg.EnvVar("TS_WIDE_TARGET")),
    run_dir=RunDirectory(path={run!r}, table_file={tables!r}, schema_rename={rename!r}, window_size={window!r},
                         emit_file_target_mb={file_mb!r})))
'''


def reachable(url: str) -> None:
    """Fail (under CI) or skip here, in one line, when the broker or backend is down."""
    import socket
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), 3).close()
    except OSError as exc:
        unreachable(f"Celery's {parts.scheme} at {parts.hostname}:{parts.port}", exc)


@contextlib.contextmanager
def worker(name: str, queue: str, env: dict, log: Path):
    """A Celery worker (``dagster-celery worker start``) in its own process group."""
    with open(log, "w") as out:
        proc = subprocess.Popen([str(BIN / "dagster-celery"), "worker", "start", "-n", name, "-q", queue,
                                 "-y", str(ROOT / "deploy" / "celery.yaml"), "-A", "dagster_celery.app", "--",
                                 "--concurrency=1"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def group_pids(pgid: int) -> set[int]:
    """Every live process of process group ``pgid`` (a worker and its pool)."""
    out = set()
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            with contextlib.suppress(OSError):
                if os.getpgid(int(p.name)) == pgid:
                    out.add(int(p.name))
    return out


def launch(dev: DagsterDev, job: str, partition: str | None = None) -> str:
    tags = [{"key": "dagster/partition", "value": partition}] if partition else []
    got = dev.graphql(LAUNCH, {"executionParams": {"selector": {
        "repositoryLocationName": "wide", "repositoryName": "__repository__", "jobName": job},
        "executionMetadata": {"tags": tags}}})["launchRun"]
    assert got["__typename"] == "LaunchRunSuccess", got
    return got["run"]["runId"]


def finished(dev: DagsterDev, run_id: str, timeout: float = 600) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = dev.graphql(STATUS, {"runId": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(1)
    raise AssertionError(f"run {run_id} still {status} after {timeout:.0f} s")


def tables(schema: str) -> list[Table]:
    c = Column
    return [Table(schema, f"t{i:02d}", (c("id", Kind.INT64, False), c("v", Kind.VARCHAR, length=30),
                                       c("n", Kind.DECIMAL, precision=12, scale=2)), ("id",))
            for i in range(TABLES)]


class Deployment:
    """A sync pair's project on the production instance: ``deploy/dagster.yaml`` in a
    PostgreSQL database of its own, ``dagster dev`` (webserver and daemon), and the
    environment every worker gets; ``worker()`` starts one on the test's own queue
    (``bench/scale_out.py`` uses it too, with the default window size)."""

    def __init__(self, tmp: Path, store, src, tgt, chosen: list[Table], file_mb: float = 64.0,
                 window_size: int = 100):
        self.tmp, self.queue = tmp, f"targetsync-test-{uuid.uuid4().hex[:8]}"
        run, proj, self.home = tmp / "run", tmp / "project", tmp / "home"
        run.mkdir()
        proj.mkdir()
        (run / "tables.txt").write_text("".join(f"{t.qualified}\n" for t in chosen))
        (proj / "defs.py").write_text(PROJECT.format(queue=self.queue, run=str(run), tables=str(run / "tables.txt"),
                                                     rename=f"{src.schema}:{tgt.schema}", file_mb=file_mb,
                                                     window=window_size))
        (proj / "workspace.yaml").write_text("load_from:\n  - python_file:\n      relative_path: defs.py\n"
                                             f"      working_directory: {proj}\n      location_name: wide\n")
        self.env = {**os.environ, "DAGSTER_HOME": str(self.home), "PATH": f"{BIN}:{os.environ['PATH']}",
                    "PYTHONPATH": f"{proj}{os.pathsep}{ROOT}",
                    "TARGETSYNC_DAGSTER_PG_URL": store.url.replace("postgresql://", "postgresql+psycopg2://"),
                    "TARGETSYNC_CELERY_BROKER": BROKER, "TARGETSYNC_CELERY_BACKEND": BACKEND,
                    "TS_WIDE_SOURCE": src.url, "TS_WIDE_TARGET": tgt.url}
        self.dev = DagsterDev(self.home, self.env, tmp / "dagster.log", ROOT / "deploy" / "dagster.yaml",
                              proj / "workspace.yaml")

    def worker(self, name: str, **env):
        return worker(name, self.queue, {**self.env, **env}, self.tmp / f"{name}.log")

    def instance(self, monkeypatch):
        """The deployment's instance, opened in the test's process."""
        from dagster import DagsterInstance
        for k, v in self.env.items():
            if k.startswith(("TARGETSYNC_", "DAGSTER_HOME")):
                monkeypatch.setenv(k, v)
        return DagsterInstance.from_config(str(self.home))

    def step_starts(self, run_id: str, monkeypatch, kind: str = "STEP_START") -> list:
        """The run's step events of ``kind``, read from the instance's PostgreSQL storage."""
        from dagster import DagsterEventType
        with self.instance(monkeypatch) as instance:
            return instance.all_logs(run_id, of_type=DagsterEventType(kind))

    def log(self) -> str:
        return (self.tmp / "dagster.log").read_text()[-3000:]


def test_the_distributed_sync_runs_its_steps_on_two_celery_workers_and_converges(tmp_path, monkeypatch):
    reachable(BROKER)
    reachable(BACKEND)
    with postgres_database() as store, BACKENDS["postgres"](tmp_path, "s") as src, \
            BACKENDS["mariadb"](tmp_path, "t") as tgt:
        chosen = tables(src.schema)
        src.create(chosen)
        for k, t in enumerate(chosen):
            src.insert(t, [(i, f"v{i}-{k}", i * k / 4) for i in range(150 + k)])
        d = Deployment(tmp_path, store, src, tgt, chosen)
        with d.worker("w1") as w1, d.worker("w2") as w2:
            d.dev.start()
            try:
                assert finished(d.dev, launch(d.dev, "wide_schema_migration")) == "SUCCESS"
                run_id = launch(d.dev, "wide_distributed_sync")
                status = finished(d.dev, run_id)
                # one table drifts; its partition's emit and apply run as two Celery steps
                tgt.execute(f"DELETE FROM `{tgt.schema}`.`t03` WHERE id % 3 = 0")
                table_run = launch(d.dev, "wide_table_sync", chosen[3].qualified)
                table_status = finished(d.dev, table_run)
                pools = group_pids(w1.pid), group_pids(w2.pid)
            finally:
                d.dev.stop()
            assert status == "SUCCESS" and table_status == "SUCCESS", d.log()
        steps = {e.step_key: e.dagster_event.pid for e in d.step_starts(run_id, monkeypatch)
                 if "sync_group" in (e.step_key or "")}
        assert len(steps) == TABLES, sorted(steps)
        pids = set(steps.values())
        assert pids & pools[0] and pids & pools[1], (pids, pools)
        table_steps = {e.step_key: e.dagster_event.pid for e in d.step_starts(table_run, monkeypatch)}
        assert len(table_steps) == 2 and set(table_steps.values()) <= pools[0] | pools[1], (table_steps, pools)
        for t in chosen:
            mirror = Table(tgt.schema, t.name, t.columns, t.primary_key)
            assert tgt.read(mirror) == src.read(t), t.name


def test_a_worker_killed_mid_apply_gives_its_step_to_the_other_and_nothing_is_applied_twice(tmp_path, monkeypatch):
    """Worker w1 takes the one table's step and is SIGKILLed (its whole process group)
    after the step's loader committed its first file; the step goes back to the queue
    (acknowledged late), w2 runs it again, resuming the emit and skipping the applied
    file, and a trigger on the target counts each row written exactly once."""
    from tests.conformance.test_server_crash import COUNTERS, count
    reachable(BROKER)
    reachable(BACKEND)
    with postgres_database() as store, BACKENDS["postgres"](tmp_path, "s") as src, \
            BACKENDS["mariadb"](tmp_path, "t") as tgt:
        items = Table(src.schema, "items", tables(src.schema)[0].columns, ("id",))
        src.create([items])
        src.insert(items, [(i, f"v{i}", i / 4) for i in range(3000)])
        d = Deployment(tmp_path, store, src, tgt, [items], file_mb=0.02)
        paused, resume = tmp_path / "paused", tmp_path / "resume"
        d.dev.start()
        try:
            assert finished(d.dev, launch(d.dev, "wide_schema_migration")) == "SUCCESS"
            tgt.execute(COUNTERS["mariadb"].format(schema=tgt.schema))
            with d.worker("w1", TARGETSYNC_PAUSE_AT="load.after_commit:1:120", TARGETSYNC_PAUSE_FLAG=str(paused),
                          TARGETSYNC_PAUSE_UNTIL=str(resume)) as w1:
                run_id = launch(d.dev, "wide_distributed_sync")
                deadline = time.time() + 300
                while not paused.exists():
                    assert time.time() < deadline and w1.poll() is None, d.log()
                    time.sleep(0.2)
                assert 0 < count(tgt) < 3000   # mid-apply: a file committed, others not
                os.killpg(w1.pid, signal.SIGKILL)
            resume.touch()
            with d.worker("w2"):
                status = finished(d.dev, run_id)
        finally:
            d.dev.stop()
        assert status == "SUCCESS", d.log()
        starts = [e for e in d.step_starts(run_id, monkeypatch) if "sync_group" in (e.step_key or "")]
        assert len(starts) == 2, [(e.step_key, e.dagster_event.pid) for e in starts]   # w1's, then w2's
        assert count(tgt) == 3000   # every row inserted once
        assert tgt.read(Table(tgt.schema, "items", items.columns, ("id",))) == src.read(items)


def test_a_pool_of_one_runs_one_step_at_a_time_across_both_workers(tmp_path, monkeypatch):
    """The pool ``targetsync_<pair>_sync`` bounds the steps running at once over every
    worker together (and so the connections each database sees, maxThreads a step): set
    to 1, no two steps of four tables overlap, though two workers wait for them."""
    reachable(BROKER)
    reachable(BACKEND)
    with postgres_database() as store, BACKENDS["postgres"](tmp_path, "s") as src, \
            BACKENDS["mariadb"](tmp_path, "t") as tgt:
        chosen = tables(src.schema)[:4]
        src.create(chosen)
        for t in chosen:
            src.insert(t, [(i, f"v{i}", i / 4) for i in range(400)])
        d = Deployment(tmp_path, store, src, tgt, chosen)
        with d.worker("w1"), d.worker("w2"):
            d.dev.start()
            try:
                assert finished(d.dev, launch(d.dev, "wide_schema_migration")) == "SUCCESS"
                with d.instance(monkeypatch) as instance:
                    instance.event_log_storage.set_concurrency_slots("targetsync_wide_sync", 1)
                run_id = launch(d.dev, "wide_distributed_sync")
                status = finished(d.dev, run_id)
            finally:
                d.dev.stop()
        assert status == "SUCCESS", d.log()
        spans = {}
        for kind in ("STEP_START", "STEP_SUCCESS"):
            for e in d.step_starts(run_id, monkeypatch, kind):
                if "sync_group" in (e.step_key or ""):
                    spans.setdefault(e.step_key, []).append(e.timestamp)
        spans = sorted(tuple(v) for v in spans.values())
        assert len(spans) == len(chosen) and all(len(s) == 2 for s in spans), spans
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), spans   # one after another
