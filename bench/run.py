"""The benchmark runner: ``python bench/run.py [--smoke] [options]``.

For every scenario × size × drift it measures, with the same tables in the same run:

* targetsync ``validate``, ``emit``, ``apply`` and ``sync`` (wall seconds and the peak RSS
  of the process; median of ``--repeat`` runs; apply and sync start from the same drifted
  target each time);
* the read floor: both tables streamed out at once (``COPY … TO STDOUT`` for PostgreSQL,
  ``mariadb --quick`` for MariaDB, a plain cursor for SQLite) to /dev/null;
* reladiff 0.6.0, installed in its own virtual environment, with ``-c`` for every column
  and ``--skip-sort-results``, output to /dev/null (it has no SQLite support).

It prints medians and ratios and writes a Markdown report with the machine it ran on.
Timings are never asserted anywhere: machines here are noisy, so only ratios measured
side by side in one run are quoted.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from bench import datagen  # noqa: E402

SCENARIOS = {"pg-pg": ("postgres", "postgres"), "pg-maria": ("postgres", "mariadb"),
             "maria-pg": ("mariadb", "postgres"), "sqlite-sqlite": ("sqlite", "sqlite")}
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "5M": 5_000_000, "10M": 10_000_000}
RELADIFF = HERE / ".venv-reladiff"
PG = "postgresql://root@127.0.0.1:5432"


@dataclass
class Side:
    kind: str
    info: str          # connection info for datagen: a PG URL, a MariaDB database name, a SQLite path
    dsn: str           # the targetsync DSN
    schema: str
    reladiff_uri: str | None

    @classmethod
    def make(cls, kind: str, role: str, work: Path, prefix: str = "tsbench") -> "Side":
        name = f"{prefix}_{role}"
        if kind == "postgres":
            import psycopg
            with psycopg.connect(f"{PG}/test", autocommit=True) as c:
                if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                    c.execute(f'CREATE DATABASE "{name}"')
            return cls(kind, f"{PG}/{name}", f"{PG}/{name}", "public", f"{PG}/{name}")
        if kind == "mariadb":
            import pymysql
            conn = pymysql.connect(host="127.0.0.1", user="root", password="")
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
            conn.close()
            return cls(kind, name, f"mysql://root@127.0.0.1:3306/{name}", name, f"mysql://root@127.0.0.1:3306/{name}")
        path = work / f"{role}.db"
        return cls(kind, str(path), f"sqlite:///{path}", "main", None)

    def stream_cmd(self) -> list[str]:
        if self.kind == "postgres":
            return ["psql", self.info, "-qAt", "-c", "COPY (SELECT * FROM items ORDER BY id) TO STDOUT"]
        if self.kind == "mariadb":
            return ["mariadb", "-h127.0.0.1", "-uroot", "--quick", "-N", self.info, "-e",
                    "SELECT * FROM items ORDER BY id"]
        return [sys.executable, "-c", "import sqlite3, sys\nfor _ in sqlite3.connect(sys.argv[1]).execute("
                "'SELECT * FROM items ORDER BY id'): pass", self.info]


@dataclass
class Measure:
    seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def peak(self) -> float:
        return max(self.rss_mb) if self.rss_mb else float("nan")


def run_timed(cmds: list[list[str]], env=None, ok=(0,)) -> tuple[float, float]:
    """Start ``cmds`` at once, wait for all; (wall seconds, largest peak RSS in MB)."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env) for c in cmds]
    peak = 0.0
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        err = p.stderr.read().decode(errors="replace")
        if p.returncode not in ok:
            raise RuntimeError(f"{' '.join(p.args[:4])}… exited {p.returncode}: {err[-2000:]}")
        peak = max(peak, usage.ru_maxrss / 1024)
    return time.perf_counter() - t0, peak


def ensure_reladiff() -> Path:
    exe = RELADIFF / "bin" / "reladiff"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(RELADIFF)], check=True)
        subprocess.run([str(RELADIFF / "bin" / "pip"), "install", "-q", "reladiff[postgresql,mysql]==0.6.0"],
                       check=True)
    return exe


def write_run(work: Path, src: Side, tgt: Side, window: int, threads: int) -> None:
    (work / "source.dsn").write_text(src.dsn + "\n")
    (work / "target.dsn").write_text(tgt.dsn + "\n")
    (work / "tables.txt").write_text(f"{src.schema}.items\n")
    rename = f"schemaRename={src.schema}:{tgt.schema}\n" if src.schema != tgt.schema else ""
    common = (f"sourceType={src.kind}\nsourceDsnFile=source.dsn\ntargetType={tgt.kind}\ntargetDsnFile=target.dsn\n"
              f"tableFile=tables.txt\nschemaFile=schema.skt\n{rename}")
    emit = f"emitOutputDirectory=emit\nwindowSize={window}\nmaxThreads={threads}\nemitFileTargetMB=64\n"
    (work / "schema.cfg").write_text(common + "outputDirectory=ddl\n")
    (work / "emit.cfg").write_text(common + "targetSyncEmit=true\n" + emit)
    (work / "sync.cfg").write_text(common + emit + "doneDirectory=done\n")
    (work / "apply.cfg").write_text(f"targetType={tgt.kind}\ntargetDsnFile=target.dsn\nschemaFile=schema.skt\n"
                                    "inputDirectory=emit\ndoneDirectory=done\n")


def ts(*args) -> list[str]:
    return [sys.executable, "-m", "targetsync_core.cli", *args]


def measure_case(scenario: str, n: int, drift: float, repeat: int, work: Path, window: int, threads: int,
                 with_reladiff: bool, reladiff_repeat: int = 1, prefix: str = "tsbench") -> dict[str, Measure]:
    s_kind, t_kind = SCENARIOS[scenario]
    work.mkdir(parents=True, exist_ok=True)
    src, tgt = Side.make(s_kind, "src", work, prefix), Side.make(t_kind, "tgt", work, prefix)
    datagen.build(src.kind, src.info, n, drift, "source")
    datagen.build(tgt.kind, tgt.info, n, drift, "target")
    write_run(work, src, tgt, window, threads)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(ts("schema", "--config", str(work / "schema.cfg")), check=True, env=env, cwd=work,
                   stdout=subprocess.DEVNULL)
    out = {k: Measure() for k in ("validate", "emit", "apply", "sync", "read floor", "reladiff")}
    cols = ["-c", "a", "-c", "b", "-c", "c", "-c", "d", "-c", "e"]
    for i in range(repeat):
        for name, cmd, ok in (("validate", ts("validate", "--config", str(work / "emit.cfg")), (0, 1)),
                              ("emit", ts("emit", "--config", str(work / "emit.cfg")), (0,))):
            t, m = run_timed([cmd], env, ok)
            out[name].seconds.append(t)
            out[name].rss_mb.append(m)
        shutil.rmtree(work / "done", ignore_errors=True)
        t, m = run_timed([ts("apply", "--config", str(work / "apply.cfg"))], env)
        out["apply"].seconds.append(t)
        out["apply"].rss_mb.append(m)
        datagen.reset(tgt.kind, tgt.info)
        shutil.rmtree(work / "done", ignore_errors=True)
        t, m = run_timed([ts("sync", "--config", str(work / "sync.cfg"))], env)
        out["sync"].seconds.append(t)
        out["sync"].rss_mb.append(m)
        datagen.reset(tgt.kind, tgt.info)
        t, m = run_timed([src.stream_cmd(), tgt.stream_cmd()])
        out["read floor"].seconds.append(t)
        out["read floor"].rss_mb.append(m)
        if with_reladiff and i < reladiff_repeat and src.reladiff_uri and tgt.reladiff_uri:
            t, m = run_timed([[str(ensure_reladiff()), src.reladiff_uri, "items", tgt.reladiff_uri, "items",
                               "-k", "id", *cols, "--skip-sort-results"]], ok=(0, 1))
            out["reladiff"].seconds.append(t)
            out["reladiff"].rss_mb.append(m)
    return out


def drop_databases(prefix: str) -> None:
    """Remove the benchmark's databases (the smoke test's own, uniquely prefixed)."""
    import psycopg
    import pymysql
    with psycopg.connect(f"{PG}/test", autocommit=True) as c:
        for role in ("src", "tgt"):
            c.execute(f'DROP DATABASE IF EXISTS "{prefix}_{role}" WITH (FORCE)')
    conn = pymysql.connect(host="127.0.0.1", user="root", password="")
    with conn.cursor() as cur:
        for role in ("src", "tgt"):
            cur.execute(f"DROP DATABASE IF EXISTS `{prefix}_{role}`")
    conn.close()


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    mem = next((int(ln.split()[1]) // 1024 // 1024 for ln in open("/proc/meminfo") if ln.startswith("MemTotal")), 0)
    versions = []
    for cmd in (["psql", "--version"], ["mariadb", "--version"]):
        try:
            versions.append(subprocess.run(cmd, capture_output=True, text=True).stdout.strip())
        except OSError:
            pass
    return (f"{os.cpu_count()} cores ({cpu}), {mem} GiB, Python {platform.python_version()}, "
            + "; ".join(versions))


def report(rows: list[tuple], args) -> str:
    head = ("| scenario | rows | drift | op | median s | peak RSS MB | × read floor | reladiff ÷ op |\n"
            "|---|---|---|---|---|---|---|---|\n")
    lines = []
    for scenario, size, drift, res in rows:
        floor, rd = res["read floor"].median, res["reladiff"].median
        for op in ("validate", "emit", "apply", "sync", "read floor", "reladiff"):
            m = res[op]
            if not m.seconds:
                continue
            x_floor = f"{m.median / floor:.2f}" if op not in ("read floor",) else ""
            x_rd = f"{rd / m.median:.1f}" if rd == rd and op in ("validate", "emit", "sync") else ""
            lines.append(f"| {scenario} | {size} | {drift:g}% | {op} | {m.median:.2f} | {m.peak:.0f} | {x_floor} | {x_rd} |")
    shown, skip = [], False
    for a in sys.argv[1:]:  # the command without --out/--work, which are the runner's own paths
        if skip or a.startswith(("--out", "--work")):
            skip = not skip and "=" not in a and a in ("--out", "--work")
            continue
        shown.append(a)
    cmd = "python bench/run.py " + " ".join(shown)
    return (f"# targetsync benchmark results\n\nMachine: {machine()}.\n\n"
            f"Run: `{cmd}` ({args.repeat} repeat(s), medians; windowSize={args.window}, maxThreads={args.threads}).\n"
            "Reproduce with `make bench` (full) or `python bench/run.py --smoke`.\n\n" + head + "\n".join(lines) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="10k rows, pg-pg, 1%% drift, one repeat")
    p.add_argument("--scenarios", default="pg-pg,pg-maria,maria-pg,sqlite-sqlite")
    p.add_argument("--sizes", default="100k,1M")
    p.add_argument("--drifts", default="0,1,10")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--window", type=int, default=10_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-reladiff", action="store_true")
    p.add_argument("--reladiff-repeat", type=int, default=1,
                   help="run reladiff in only the first N repeats (it takes minutes at 10%% drift)")
    p.add_argument("--work", default=str(HERE / "work"))
    p.add_argument("--db-prefix", default="tsbench", help="names of the benchmark databases: PREFIX_src, PREFIX_tgt")
    p.add_argument("--drop", action="store_true", help="drop the benchmark databases at the end")
    p.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = p.parse_args(argv)
    if args.smoke:
        args.scenarios, args.sizes, args.drifts, args.repeat = "pg-pg", "10k", "1", 1
    for option, given, known in (("--scenarios", args.scenarios, SCENARIOS), ("--sizes", args.sizes, SIZES)):
        unknown = [v for v in given.split(",") if v not in known]
        if unknown:
            p.error(f"{option}: unknown {', '.join(unknown)} (known: {', '.join(known)})")
    rows = []
    for scenario in args.scenarios.split(","):
        for size in args.sizes.split(","):
            for drift in (float(d) for d in args.drifts.split(",")):
                res = measure_case(scenario, SIZES[size], drift, args.repeat, Path(args.work) / scenario, args.window,
                                   args.threads, not args.no_reladiff, args.reladiff_repeat, args.db_prefix)
                rows.append((scenario, size, drift, res))
                summary = ", ".join(f"{k} {v.median:.2f}s" for k, v in res.items() if v.seconds)
                print(f"{scenario} {size} {drift:g}%: {summary}", flush=True)
    if args.drop:
        drop_databases(args.db_prefix)
    text = report(rows, args)
    profile = HERE / "PROFILE.md"   # the hand-written analysis of the gaps, kept across runs
    if profile.exists() and not args.smoke:
        text += "\n" + profile.read_text()
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
