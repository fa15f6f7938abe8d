"""The distributed sync on 1, 2 and 4 Celery workers (issue 22):
``python bench/scale_out.py [--tables 100] [--rows 2000] [--workers 1,2,4] [--repeat 2]``.

It builds ``--tables`` tables of ``--rows`` rows on a PostgreSQL source (bigint key,
varchar, numeric, timestamp) and a MariaDB target database, both with unique names and
dropped at the end, even on failure or SIGTERM. The deployment is the one of
``tests/dagster/test_celery.py`` (imported, not copied): ``deploy/dagster.yaml`` in a
PostgreSQL database of its own, ``dagster dev``, ``deploy/celery.yaml``, RabbitMQ as the
broker and Redis as the result backend, a queue of its own; the pair's window size is the
production default (10,000 rows).

The schema migration runs once, then one untimed full sync (it registers the table
partitions and brings the target level with the source). Then ``--repeat`` rounds, each
timing, in turn, the in-process ``wide_full_sync`` (one step, one emit over every table,
``maxThreads`` 4) and ``wide_distributed_sync`` on each worker count W. Before every run
the target is drifted identically (``--drift``: 10% of each table's rows deleted, 5%
updated), so every run does the same work. For a distributed run, W workers
(``dagster-celery worker start … --concurrency=1``) are started, each in its own process
group, and awaited until ready; they are stopped by process group after the run, so each
run pays for its workers' first import of the code location once.

A run is timed from the launch mutation to the status SUCCESS seen by GraphQL (polled
every 0.25 s). From the instance's event log (PostgreSQL) it also reads each step's
STEP_START and STEP_SUCCESS: the sum of the per-table steps' durations, and the time a
worker spent between steps, per step: (W × the span of the table steps − their sum) / the
number of steps; with one worker that is the mean gap between one step's end and the next
one's start. That idle time is broken down per worker (its pool process's pid) from the
executor's engine events: the task's set-up (the worker's last step's end, or the step's
submission if later, → "Executing steps … in celery worker"), → STEP_START, and the time
the worker waited for the orchestrator to submit its next step at all. Also printed: the
CPU other processes of the machine used meanwhile (the database, broker and backend
servers excepted), in cores. ``--pool-limit N`` sets the limit of the pool every
``sync_group`` step takes a slot of (``targetsync_wide_sync``; 4 by deploy/dagster.yaml's
default), as ``dagster instance concurrency set`` does. Timings are printed, never
asserted.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from targetsync_core.model.schema import Column, Table  # noqa: E402
from targetsync_core.model.types import Kind  # noqa: E402
from tests.dagster.test_celery import BACKEND, BROKER, STATUS, Deployment, launch, reachable  # noqa: E402
from tests.servers import mariadb_database, postgres_database  # noqa: E402

FULL = "wide_full_sync"
DISTRIBUTED = "wide_distributed_sync"
#: the shared servers (their CPU is part of the work measured), not other load
SERVERS = {"postgres", "mariadbd", "beam.smp", "redis-server", "epmd", "erl_child_setup", "inet_gethost"}


def cpu_by_pid() -> dict[int, tuple[int, int, str]]:
    """Every process's (parent, CPU ticks used, name), from /proc."""
    out = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                raw = (p / "stat").read_text()
                name, rest = raw[raw.index("(") + 1:raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
                out[int(p.name)] = (int(rest[1]), int(rest[11]) + int(rest[12]), name)
    return out


def foreign_ticks(before: dict, after: dict) -> int:
    """CPU ticks used between two snapshots by processes that are neither this benchmark's
    (descendants of this process) nor the database, broker and backend servers; a process
    that started and ended in between is missed."""
    me, total = os.getpid(), 0
    for pid, (ppid, ticks, name) in after.items():
        seen, mine = set(), False
        while ppid > 1 and ppid not in seen:
            if ppid == me:
                mine = True
                break
            seen.add(ppid)
            ppid = after.get(ppid, (0,))[0]
        if not mine and pid != me and name not in SERVERS:
            total += ticks - before.get(pid, (0, 0, ""))[1]
    return total


def build_source(url: str, tables: int, rows: int) -> list[Table]:
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(tables):
            conn.execute(f"CREATE TABLE t{i:03d} (id bigint PRIMARY KEY, v varchar(40), n numeric(12,2), "
                         "ts timestamp)")
            conn.execute(f"INSERT INTO t{i:03d} SELECT g, 'v' || g || '-' || {i}, round(g * {i + 1} / 7.0, 2), "
                         f"timestamp '2026-01-01' + g * interval '37 seconds' FROM generate_series(1, {rows}) g")
        conn.execute("ANALYZE")
    c = Column
    return [Table("public", f"t{i:03d}", (c("id", Kind.INT64, False), c("v", Kind.VARCHAR, length=40),
                                          c("n", Kind.DECIMAL, precision=12, scale=2), c("ts", Kind.TIMESTAMP)),
                  ("id",)) for i in range(tables)]


class Target:
    """The MariaDB target: drift it identically before each run, count its rows after."""

    def __init__(self, schema: str, names: list[str], delete_pct: int, update_pct: int):
        import pymysql
        self.conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database=schema,
                                    autocommit=True)
        self.names, self.delete_pct, self.update_pct = names, delete_pct, update_pct

    def drift(self) -> None:
        """Delete ``delete_pct``% of every table's rows and update ``update_pct``% (keys
        chosen by their value, so every run starts from the same target)."""
        with self.conn.cursor() as cur:
            for t in self.names:
                if self.delete_pct:
                    cur.execute(f"DELETE FROM `{t}` WHERE id % 100 < {self.delete_pct}")
                if self.update_pct:
                    cur.execute(f"UPDATE `{t}` SET v = CONCAT(v, '~'), n = n + 1 "
                                f"WHERE id % 100 >= 50 AND id % 100 < {50 + self.update_pct}")

    def truncate(self) -> None:
        with self.conn.cursor() as cur:
            for t in self.names:
                cur.execute(f"TRUNCATE TABLE `{t}`")

    def rows(self) -> int:
        with self.conn.cursor() as cur:
            total = 0
            for t in self.names:
                cur.execute(f"SELECT COUNT(*) FROM `{t}`")
                total += cur.fetchone()[0]
            return total


@dataclass
class Run:
    wall: float            # launch mutation → SUCCESS seen over GraphQL
    queued: float          # launch → the run's process started (queue, daemon, process start-up)
    steps: float           # sum of the table steps' durations (the full sync: its one step)
    idle: float            # a worker's time between steps, per step (distributed runs)
    first: float           # launch → the first table step's start
    setup: float = 0.0     # a worker's task set-up a step (median): its last step's end, or the
                           # task's submission if later, → "Executing steps … in celery worker"
    prep: float = 0.0      # → STEP_START (the step's resources, its first events), median
    starved: float = 0.0   # a worker's wait for the orchestrator to submit its next step, in all
    foreign: float = 0.0   # CPU of other processes on the machine meanwhile, in cores


@dataclass
class Series:
    runs: list[Run] = field(default_factory=list)

    def med(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)

    def span(self) -> str:
        w = [r.wall for r in self.runs]
        return f"{min(w):.1f}–{max(w):.1f}"


class Bench:
    def __init__(self, d: Deployment, target: Target, tables: int, timeout: float):
        from dagster import DagsterInstance
        self.d, self.target, self.tables, self.timeout = d, target, tables, timeout
        for k, v in d.env.items():   # the instance's PostgreSQL URL, read by deploy/dagster.yaml
            if k.startswith(("TARGETSYNC_", "DAGSTER_HOME")):
                os.environ[k] = v
        self.instance = DagsterInstance.from_config(str(d.home))
        self.count = 0

    def wait(self, run_id: str) -> str:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            status = self.d.dev.graphql(STATUS, {"runId": run_id})["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                return status
            time.sleep(0.25)
        raise RuntimeError(f"run {run_id} still {status} after {self.timeout:.0f} s: {self.d.log()}")

    def run(self, job: str, workers: int = 0) -> Run:
        self.target.drift()
        with contextlib.ExitStack() as stack:
            self.count += 1
            names = [f"r{self.count:02d}w{workers}-{k}" for k in range(workers)]
            for name in names:
                stack.enter_context(self.d.worker(name))
            self.ready(names)
            t0, w0, cpu0 = time.monotonic(), time.time(), cpu_by_pid()
            run_id = launch(self.d.dev, job)
            status = self.wait(run_id)
            wall = time.monotonic() - t0
            foreign = foreign_ticks(cpu0, cpu_by_pid()) / os.sysconf("SC_CLK_TCK") / wall
        if status != "SUCCESS":
            raise RuntimeError(f"{job} on {workers} worker(s) ended {status}: {self.d.log()}")
        rows = self.target.rows()
        if rows != self.expected:
            raise RuntimeError(f"{job} left {rows} rows on the target, not {self.expected}")
        run = self.measure(run_id, wall, w0, workers)
        run.foreign = foreign
        return run

    def ready(self, names: list[str], timeout: float = 120) -> None:
        """Wait until every worker's log says it is ready (connected to the broker)."""
        deadline = time.monotonic() + timeout
        for name in names:
            log = self.d.tmp / f"{name}.log"
            while " ready." not in (log.read_text(errors="replace") if log.exists() else ""):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"worker {name} not ready after {timeout:.0f} s: {log.read_text()[-2000:]}")
                time.sleep(0.2)

    def measure(self, run_id: str, wall: float, w0: float, workers: int) -> Run:
        from dagster import DagsterEventType as E
        record = self.instance.get_run_record_by_id(run_id)
        starts, ends, submitted, executing, pids = {}, {}, {}, {}, {}
        for e in self.instance.all_logs(run_id, of_type={E.STEP_START, E.STEP_SUCCESS, E.ENGINE_EVENT}):
            kind, key = e.dagster_event.event_type, e.step_key
            if kind == E.STEP_START:
                starts[key], pids[key] = e.timestamp, e.dagster_event.pid
            elif kind == E.STEP_SUCCESS:
                ends[key] = e.timestamp
            elif key and "Submitting celery task" in (e.dagster_event.message or e.user_message or ""):
                submitted[key] = e.timestamp
            elif key and "Executing steps" in (e.dagster_event.message or e.user_message or ""):
                executing[key] = e.timestamp
        keys = [k for k in starts if ("sync_group" in k or "sync_every_table" in k) and k in ends]
        expected = self.tables if workers else 1
        if len(keys) != expected:
            raise RuntimeError(f"run {run_id}: {len(keys)} table step(s) finished, not {expected}")
        total = sum(ends[k] - starts[k] for k in keys)
        span = max(ends[k] for k in keys) - min(starts[k] for k in keys)
        run = Run(wall, record.start_time - w0, total, 0.0, min(starts[k] for k in keys) - w0)
        if not workers:
            return run
        run.idle = (workers * span - total) / len(keys)
        # each worker's steps in order (its pool process's pid): what it did between two
        setups, preps = [], []
        by_pid: dict[int, list[str]] = {}
        for k in sorted(keys, key=starts.get):
            by_pid.setdefault(pids[k], []).append(k)
        for steps in by_pid.values():
            for prev, k in zip(steps, steps[1:]):
                if k in submitted and k in executing:
                    ready = max(ends[prev], submitted[k])
                    run.starved += max(0.0, submitted[k] - ends[prev])
                    setups.append(executing[k] - ready)
                    preps.append(starts[k] - executing[k])
        run.setup = statistics.median(setups) if setups else float("nan")
        run.prep = statistics.median(preps) if preps else float("nan")
        return run

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tables", type=int, default=100)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--drift", default="10,5", help="percent of rows deleted,updated before each run; "
                    "'truncate' empties the target tables instead")
    ap.add_argument("--timeout", type=float, default=900, help="seconds a run may take")
    ap.add_argument("--pool-limit", type=int, default=None,
                    help="set the pool targetsync_wide_sync's limit (deploy/dagster.yaml's default: 4), as "
                         "`dagster instance concurrency set` does")
    args = ap.parse_args(argv)
    counts = [int(x) for x in args.workers.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # run every finally: drop the databases
    reachable(BROKER)
    reachable(BACKEND)
    print(f"# {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.tables} tables × {args.rows} rows, workers {counts}, repeat {args.repeat}, drift {args.drift}, "
          f"pool limit {args.pool_limit or 'default (4)'}",
          flush=True)
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ts-scale-out-") as tmp, postgres_database() as store, \
            postgres_database() as src, mariadb_database() as tgt:
        tmp = Path(tmp)
        chosen = build_source(src.url, args.tables, args.rows)
        print(f"source built ({time.monotonic() - t_start:.0f} s)", flush=True)
        d = Deployment(tmp, store, src, tgt, chosen, window_size=10_000)
        if args.drift == "truncate":
            target = Target(tgt.schema, [t.name for t in chosen], 0, 0)
            target.drift = target.truncate
        else:
            dele, upd = (int(x) for x in args.drift.split(","))
            target = Target(tgt.schema, [t.name for t in chosen], dele, upd)
        d.dev.start()
        try:
            bench = Bench(d, target, args.tables, args.timeout)
            bench.expected = args.tables * args.rows
            run_id = launch(d.dev, "wide_schema_migration")
            if bench.wait(run_id) != "SUCCESS":
                raise RuntimeError(f"the schema migration failed: {d.log()}")
            if args.pool_limit is not None:
                bench.instance.event_log_storage.set_concurrency_slots("targetsync_wide_sync", args.pool_limit)
            first = bench.run(FULL)   # untimed: registers the partitions, fills the target
            print(f"migrated, first full sync {first.wall:.1f} s (untimed)", flush=True)
            series = {0: Series(), **{w: Series() for w in counts}}
            try:
                for rep in range(args.repeat):
                    for w in [0, *counts]:
                        r = bench.run(DISTRIBUTED if w else FULL, w)
                        series[w].runs.append(r)
                        print(f"round {rep + 1}, {f'{w} worker(s)' if w else 'in-process full sync'}: "
                              f"{r.wall:.1f} s (launch → run start {r.queued:.1f} s, → first table step "
                              f"{r.first:.1f} s; table steps {r.steps:.1f} s in all, "
                              f"{r.steps / (args.tables if w else 1):.2f} s each; idle between steps {r.idle:.2f} s "
                              f"a step: task set-up {r.setup:.2f} s, → STEP_START {r.prep:.2f} s, starved "
                              f"{r.starved:.1f} s in all; other processes {r.foreign:.2f} cores)", flush=True)
            finally:   # what was measured, even when a run failed or the benchmark was stopped
                if series[0].runs:
                    report(series, counts, args)
            bench.instance.dispose()
        finally:
            d.dev.stop()
    print(f"# total {time.monotonic() - t_start:.0f} s", flush=True)
    return 0


def report(series: dict[int, Series], counts: list[int], args) -> None:
    full = series[0].med("wall")
    done = [w for w in counts if series[w].runs]
    base = series[counts[0]].med("wall") if series[counts[0]].runs else float("nan")
    print(f"\n{args.tables} tables × {args.rows} rows, drift {args.drift}, pool limit "
          f"{args.pool_limit or 'default (4)'}, medians of "
          f"{', '.join(str(len(series[w].runs)) for w in [0, *counts])} run(s):\n")
    print("| workers | wall (median) | range | speed-up vs 1 worker | full sync ÷ this | table steps, sum "
          "| a step (mean) | worker idle between steps, a step | of which task set-up | other load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    s = series[0]
    print(f"| in-process `full_sync` (1 step, maxThreads 4) | {full:.1f} s | {s.span()} s | – | 1.00 "
          f"| {s.med('steps'):.1f} s | – | – | – | {s.med('foreign'):.2f} cores |")
    for w in done:
        s = series[w]
        wall = s.med("wall")
        print(f"| {w} | {wall:.1f} s | {s.span()} s | {base / wall:.2f} | {full / wall:.2f} "
              f"| {s.med('steps'):.1f} s | {s.med('steps') / args.tables:.2f} s | {s.med('idle'):.2f} s "
              f"| {s.med('setup'):.2f} s | {s.med('foreign'):.2f} cores |")
    names = {0: "full sync", **{w: f"{w} w" for w in done}}
    print("\nlaunch → run start (queue, daemon, run process), median: "
          + ", ".join(f"{names[w]} {series[w].med('queued'):.1f} s" for w in names))
    print("launch → first table step, median: "
          + ", ".join(f"{names[w]} {series[w].med('first'):.1f} s" for w in names))
    print("a step's task start → STEP_START, median: "
          + ", ".join(f"{names[w]} {series[w].med('prep'):.2f} s" for w in done))
    print("workers waiting for the orchestrator to submit a step, in all, median: "
          + ", ".join(f"{names[w]} {series[w].med('starved'):.1f} s" for w in done), flush=True)

if __name__ == "__main__":
    sys.exit(main())
