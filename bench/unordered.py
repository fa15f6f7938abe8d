"""The bounded diff of a source that cannot read in key order (issue 21): time and memory.

``python bench/unordered.py [--sizes 1M,3M,10M] [--drifts 0,1,10] [--ceiling 100000] [--repeat N]``

What it runs: the :class:`Emitter` in validate mode (``output_dir=None``: it diffs and
counts, writing nothing), windowSize 10000, maxThreads 2, over two synthetic databases
defined here, so that the process's memory is the diff's own:

* :class:`ScrambledSource`, "cassandra-like" (``ordered_reads=False``): ``scan()`` yields
  its N rows in a scrambled, deterministic key order (a keyed bijection of 0..N-1, generated
  on the fly, never held as a list); ``fetch(keys)`` recomputes the rows of the keys asked
  for and counts them.
* :class:`DriftedTarget`, ordered: ``read_window`` generates a window's rows in key order,
  equal to the source's except for d% of keys, spread through the key space by a
  multiplicative hash and split in three: rows whose ``b`` differs (updates), rows the target
  lacks (inserts) and target-only rows between two source keys (deletes).

Rows are ``(id INT64 key, a VARCHAR(30), b INT64, c FLOAT64, d TIMESTAMPTZ(3))`` in
canonical values (``model/types.py``): source keys are the even numbers 0..2N-2, target-only
keys odd.

What it measures, each run in its own child process (``--child``): wall and CPU seconds of
``Emitter.run()`` (CPU: user + system, all threads), the wall split into the scan-and-sort phase (``sort_items``, recorded by wrapping
it in the child) and the windows after it; the child's peak RSS (``ru_maxrss``) and its RSS
before the run; the sorted runs spilled and the spill directory's peak size (sampled every
0.2 s) and final store size; the counts, checked against the drift injected (a wrong count
fails the run, and the benchmark, loudly); how many keys ``fetch`` was asked for, which must
equal inserts + updates. It also times the two generators alone (``generators`` row: scan
every source row and read every target window, no diff), the floor this harness adds.

Three sets of runs: the grid (sizes × drifts at ``--ceiling``, (pk, hash) mode, ``--repeat``
times each, medians and ranges); the ceiling trade at ``--trade-size`` (1% drift, ceilings
``--trade-ceilings``, ``all`` meaning N+1: nothing spilled; at exactly N the sorter
writes its full buffer as one run); whole rows (``pk_hash=False``,
``sort_mem_rows`` = the ceiling) beside (pk, hash) at ``--mode-size`` and ``--mode-drifts``, the
two alternating ``--repeat`` times (or (pk, hash) taken from the grid). ``--profile SIZE:DRIFT``
instead runs one child under cProfile (the window threads too) and prints its top entries.
Spill files go under ``--spill-dir`` (default: the system temporary directory), one fresh
directory a run. Prints Markdown tables; timings are never asserted.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from targetsync_core.adapters.base import Capabilities, Database  # noqa: E402
from targetsync_core.diff.windows import Window  # noqa: E402
from targetsync_core.model.schema import Column, Table  # noqa: E402
from targetsync_core.model.types import Kind  # noqa: E402

WINDOW_SIZE = 10_000
MAX_THREADS = 2
TABLE = Table("bench", "events", (
    Column("id", Kind.INT64, nullable=False, native="bigint"),
    Column("a", Kind.VARCHAR, length=30, native="varchar(30)"),
    Column("b", Kind.INT64, native="bigint"),
    Column("c", Kind.FLOAT64, native="double"),
    Column("d", Kind.TIMESTAMPTZ, precision=3, native="timestamptz(3)"),
), ("id",))
EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
MS = dt.timedelta(milliseconds=1)
SPREAD = 2654435761     # k * SPREAD % 10000 scatters drift; 5761 is prime to 10000, so every
PERIOD = 10_000         # 10000 consecutive k take each residue exactly once


# -- the data ----------------------------------------------------------------------------
def row(key: int, bump: int = 0) -> tuple:
    """The canonical row of ``key`` (``bump`` added to ``b``: an updated target row)."""
    return (key, f"name-{key * SPREAD % 1_000_000_007:010d}", key % 1000 + bump, key * 0.25, EPOCH + key * MS)


def cuts(drift_pct: float) -> tuple[int, int, int]:
    """Residues (of 10000) below ``u`` are updated, in [u, m) missing from the target, in
    [m, x) followed by a target-only row."""
    per = int(round(drift_pct * 100))
    return per // 3, 2 * per // 3, per


def expected(n: int, drift_pct: float) -> dict:
    """The counts a validate must report."""
    u, m, x = cuts(drift_pct)
    full, rest = divmod(n, PERIOD)
    hs = [k * SPREAD % PERIOD for k in range(full * PERIOD, n)]
    updates = full * u + sum(h < u for h in hs)
    inserts = full * (m - u) + sum(u <= h < m for h in hs)
    deletes = full * (x - m) + sum(m <= h < x for h in hs)
    return {"source_rows": n, "target_rows": n - inserts + deletes, "inserts": inserts,
            "updates": updates, "deletes": deletes}


def scrambled(n: int) -> Iterator[int]:
    """0..n-1 in a hash-like order: a bijection of the smallest power-of-two domain over n
    (odd multiplications and xor-shifts), cycle-walked into [0, n)."""
    bits = max(2, (n - 1).bit_length())
    mask, half = (1 << bits) - 1, bits // 2

    def f(x: int) -> int:
        x = (x * 0x9E3779B1) & mask
        x ^= x >> half
        return (x * 0x85EBCA77) & mask
    for i in range(n):
        y = f(i)
        while y >= n:
            y = f(y)
        yield y


class _Synthetic(Database):
    """What both sides share: the one table, no key order of their own to offer."""

    def __init__(self, n: int):
        self.n = n

    def reflect(self, schema: str, name: str) -> Table | None:
        return TABLE if (schema, name) == (TABLE.schema, TABLE.name) else None

    def read_keys(self, table: Table) -> Iterator[tuple]:
        raise NotImplementedError("not called: no key folding, and an unordered source is scanned")


class ScrambledSource(_Synthetic):
    capabilities = Capabilities(name="cassandra-like", target=False, ordered_reads=False)

    def __init__(self, n: int):
        super().__init__(n)
        self.fetched = self.fetch_calls = 0
        self._lock = threading.Lock()

    def scan(self, table: Table, threads: int = 1) -> Iterator[tuple]:
        return (row(2 * k) for k in scrambled(self.n))

    def fetch(self, table: Table, keys: list[tuple]) -> Iterator[tuple]:
        with self._lock:
            self.fetched += len(keys)
            self.fetch_calls += 1
        return (row(k) for (k,) in keys if k % 2 == 0 and 0 <= k < 2 * self.n)

    def read_window(self, table: Table, window: Window) -> Iterator[tuple]:
        raise NotImplementedError("an unordered source is scanned, never read by window")


class DriftedTarget(_Synthetic):
    capabilities = Capabilities(name="ordered-target")

    def __init__(self, n: int, drift_pct: float):
        super().__init__(n)
        self.cuts = cuts(drift_pct)

    def read_window(self, table: Table, window: Window) -> Iterator[tuple]:
        lo = window.lo[0] if window.lo is not None else None
        hi = window.hi[0] if window.hi is not None else None
        u, m, x = self.cuts
        start = 0 if lo is None else max(0, lo // 2)
        stop = self.n if hi is None else min(self.n, hi // 2 + 1)
        for k in range(start, stop):
            h = k * SPREAD % PERIOD
            for key in (2 * k, 2 * k + 1):
                if key % 2 == 0:
                    if u <= h < m:
                        continue
                elif not m <= h < x:
                    continue
                if lo is not None and (key < lo or (key == lo and not window.lo_inclusive)):
                    continue
                if hi is not None and key >= hi:
                    return
                yield row(key, 1 if h < u else 0)


# -- one measurement, in a child process -------------------------------------------------
@dataclass(frozen=True)
class Spec:
    n: int
    drift: float
    ceiling: int
    pk_hash: bool = True
    spill_root: str = ""
    generators_only: bool = False


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU of this process, all threads: less sensitive than wall seconds to
    other processes sharing the cores."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class DiskSampler(threading.Thread):
    """The largest total size of the files under ``root``, sampled every 0.2 s."""

    def __init__(self, root: Path):
        super().__init__(daemon=True)
        self.root, self.peak, self._done = root, 0, threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.2):
            total = 0
            for d, _, files in os.walk(self.root):
                for f in files:
                    try:
                        total += os.stat(os.path.join(d, f)).st_size
                    except OSError:
                        pass
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def record_sorts(stats: dict) -> None:
    """Wrap ``emit.unordered.sort_items`` to note the scan-and-sort phase's seconds, its
    spilled runs and the sorted store's size (the emitter closes the store before it returns)."""
    import targetsync_core.emit.unordered as unordered
    original = unordered.sort_items

    def sort_items(*args, **kwargs):
        t0 = time.perf_counter()
        store = original(*args, **kwargs)
        stats.update(sort_s=time.perf_counter() - t0, runs=store.runs, sorted_count=store.count,
                     store_mb=store.path.stat().st_size / 2**20 if store.path else 0.0)
        return store
    unordered.sort_items = sort_items


def profile_threads(profiles: list) -> None:
    """Profile every thread started from now on (cProfile sees only its own thread)."""
    run = threading.Thread.run

    def profiled(self):
        p = cProfile.Profile()
        p.enable()
        try:
            run(self)
        finally:
            p.disable()
            profiles.append(p)
    threading.Thread.run = profiled


def measure(spec: Spec, profile: bool = False) -> dict:
    from targetsync_core.emit.emitter import Emitter, EmitSettings, prepare_pairs
    from targetsync_core.emit.unordered import SortSettings

    source, target = ScrambledSource(spec.n), DriftedTarget(spec.n, spec.drift)
    out: dict = {"spec": asdict(spec), "rss_before_mb": peak_rss_mb()}
    if spec.generators_only:
        t0 = time.perf_counter()
        scanned = sum(1 for _ in source.scan(TABLE))
        read = sum(1 for _ in target.read_window(TABLE, Window(0, 0, None, None)))
        out.update(wall_s=time.perf_counter() - t0, peak_rss_mb=peak_rss_mb(), scanned=scanned, read=read)
        return out
    spill = Path(tempfile.mkdtemp(prefix="bench-unordered-", dir=spec.spill_root or None))
    stats: dict = {}
    record_sorts(stats)
    pairs = prepare_pairs([TABLE.qualified], [TABLE], source, target, {})
    settings = EmitSettings(window_size=WINDOW_SIZE, max_threads=MAX_THREADS, output_dir=None,
                            sorting=SortSettings(pk_hash=spec.pk_hash, pk_hash_mem_rows=spec.ceiling,
                                                 sort_mem_rows=spec.ceiling, directory=spill))
    profiles: list = []
    main = cProfile.Profile() if profile else None
    sampler = None if profile else DiskSampler(spill)
    if profile:
        profile_threads(profiles)
        main.enable()
    else:
        sampler.start()
    try:
        t0, c0 = time.perf_counter(), cpu_seconds()
        summary = Emitter(pairs, source, target, settings).run()
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    finally:
        try:
            disk = sampler.stop() if sampler else 0
            if main:
                main.disable()
        finally:
            shutil.rmtree(spill, ignore_errors=True)
    counts = asdict(summary.tables[0].counts)
    out.update(wall_s=wall, cpu_s=cpu, peak_rss_mb=peak_rss_mb(), counts=counts, fetched=source.fetched,
               fetch_calls=source.fetch_calls, windows=summary.tables[0].windows,
               spill_peak_mb=disk / 2**20, **stats)
    check(spec, out)
    if profile:
        text = io.StringIO()
        st = pstats.Stats(main, stream=text)
        for p in profiles:
            st.add(p)
        st.sort_stats("tottime").print_stats(30)
        st.sort_stats("cumulative").print_stats(30)
        out["profile"] = text.getvalue()
    return out


def check(spec: Spec, out: dict) -> None:
    """Refuse counts other than the drift injected, and fetches beyond the drift."""
    want = expected(spec.n, spec.drift)
    got = out["counts"]
    wrong = {k: (got[k], v) for k, v in want.items() if got[k] != v}
    if wrong:
        raise SystemExit(f"WRONG COUNTS for {spec}: (got, expected) {wrong}")
    if spec.pk_hash and out["fetched"] != want["inserts"] + want["updates"]:
        raise SystemExit(f"WRONG FETCHES for {spec}: {out['fetched']} keys fetched, expected "
                         f"{want['inserts'] + want['updates']} (inserts + updates)")
    if not spec.pk_hash and out["fetched"]:
        raise SystemExit(f"whole-row mode fetched {out['fetched']} keys; it should fetch none")
    if out.get("sorted_count") != spec.n:
        raise SystemExit(f"the sort held {out.get('sorted_count')} items, not {spec.n}")


# -- the parent: plan, run, tabulate -----------------------------------------------------
def run_child(spec: Spec) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(asdict(spec))]
    load = os.getloadavg()[0]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"run {spec} failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["load"] = load
    print(f"  {label(spec)}: {out['wall_s']:.1f} s (cpu {out.get('cpu_s', float('nan')):.1f} s), {out['peak_rss_mb']:.0f} MB, "
          f"runs={out.get('runs', '-')}, fetched={out.get('fetched', '-')}, load {load:.2f}", flush=True)
    return out


def label(spec: Spec) -> str:
    if spec.generators_only:
        return f"{size_text(spec.n)} generators alone"
    mode = "pk-hash" if spec.pk_hash else "whole rows"
    return f"{size_text(spec.n)} {spec.drift:g}% {mode} ceiling {size_text(spec.ceiling)}"


def parse_size(text: str) -> int:
    text = text.strip()
    scale = {"k": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def size_text(n: int) -> str:
    for unit, scale in (("M", 1_000_000), ("k", 1_000)):
        if n >= scale and n % (scale // 10) == 0:
            return f"{n / scale:g}{unit}"
    return str(n)


def med(runs: list[dict], key: str) -> str:
    vals = [r[key] for r in runs if key in r]
    if not vals:
        return "—"
    m = statistics.median(vals)
    if len(vals) == 1:
        return f"{m:.1f}"
    return f"{m:.1f} ({min(vals):.1f}–{max(vals):.1f})"


def windows_s(r: dict) -> float:
    return r["wall_s"] - r.get("sort_s", 0.0)


def print_table(head: list[str], rows: list[list]) -> None:
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(map(str, r)) + " |")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1M,3M,10M")
    ap.add_argument("--drifts", default="0,1,10")
    ap.add_argument("--ceiling", default="100000", help="pk_hash_mem_rows (and sort_mem_rows) of the grid")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip", default="", help="grid cells not run, SIZE:DRIFT,... (e.g. 10M:10)")
    ap.add_argument("--repeat-max-size", default="", help="sizes above this run once (budget)")
    ap.add_argument("--trade-size", default="3M")
    ap.add_argument("--trade-ceilings", default="10k,100k,1M,all")
    ap.add_argument("--mode-size", default="3M")
    ap.add_argument("--mode-drifts", default="1,10")
    ap.add_argument("--spill-dir", default=os.environ.get("TARGETSYNC_SPILL_DIR", ""))
    ap.add_argument("--only", default="generators,grid,trade,mode", help="which sets to run")
    ap.add_argument("--profile", default="", help="SIZE:DRIFT: one run under cProfile, nothing else")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        print(json.dumps(measure(Spec(**json.loads(args.child)))))
        return
    ceiling = parse_size(args.ceiling)
    if args.profile:
        size, drift = args.profile.split(":")
        out = measure(Spec(parse_size(size), float(drift), ceiling, spill_root=args.spill_dir), profile=True)
        print(f"wall {out['wall_s']:.1f} s, sort phase {out['sort_s']:.1f} s, runs {out['runs']}")
        print(out["profile"])
        return

    sizes = [parse_size(s) for s in args.sizes.split(",")]
    drifts = [float(d) for d in args.drifts.split(",")]
    skip = {(parse_size(s), float(d)) for s, d in (c.split(":") for c in args.skip.split(",") if c)}
    once_above = parse_size(args.repeat_max_size) if args.repeat_max_size else None
    only = set(args.only.split(","))
    spill = args.spill_dir
    print(f"# {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"spill under {spill or tempfile.gettempdir()}; windowSize {WINDOW_SIZE}, maxThreads {MAX_THREADS}\n",
          flush=True)

    gens: dict[int, dict] = {}
    if "generators" in only:
        for n in sizes:
            gens[n] = run_child(Spec(n, 0, ceiling, generators_only=True))
    grid: dict[tuple, list[dict]] = {}
    if "grid" in only:
        for n in sizes:
            for d in drifts:
                if (n, d) in skip:
                    continue
                reps = 1 if once_above is not None and n > once_above else args.repeat
                grid[n, d] = [run_child(Spec(n, d, ceiling, spill_root=spill)) for _ in range(reps)]
    trade: dict[int, list[dict]] = {}
    if "trade" in only:
        tn = parse_size(args.trade_size)
        for c in args.trade_ceilings.split(","):
            cv = tn + 1 if c == "all" else parse_size(c)   # at exactly N the sorter spills its one full buffer
            trade[cv] = grid.get((tn, 1.0)) if cv == ceiling and (tn, 1.0) in grid else \
                [run_child(Spec(tn, 1.0, cv, spill_root=spill))]
    mode: dict[tuple, list[dict]] = {}
    if "mode" in only:   # the two modes alternate, so that both see the same load
        mn = parse_size(args.mode_size)
        for d in (float(x) for x in args.mode_drifts.split(",")):
            hashed = mode["pk-hash", d] = list(grid.get((mn, d), []))
            whole = mode["whole rows", d] = []
            for _ in range(args.repeat):
                if (mn, d) not in grid:
                    hashed.append(run_child(Spec(mn, d, ceiling, spill_root=spill)))
                whole.append(run_child(Spec(mn, d, ceiling, pk_hash=False, spill_root=spill)))

    print()
    if gens:
        print("Generators alone (scan every source row + read every target window, no diff):\n")
        print_table(["rows", "seconds", "peak RSS MB"],
                    [[size_text(n), f"{g['wall_s']:.1f}", f"{g['peak_rss_mb']:.0f}"] for n, g in gens.items()])
    if grid:
        print(f"Wall seconds, median (range) of runs, ceiling {size_text(ceiling)}:\n")
        print_table(["rows"] + [f"{d:g}% drift" for d in drifts],
                    [[size_text(n)] + [med(grid[n, d], "wall_s") if (n, d) in grid else "—" for d in drifts]
                     for n in sizes])
        print(f"Peak RSS MB, largest of runs (RSS before the run in brackets), ceiling {size_text(ceiling)}:\n")
        print_table(["rows"] + [f"{d:g}% drift" for d in drifts],
                    [[size_text(n)] + [f"{max(r['peak_rss_mb'] for r in grid[n, d]):.0f} "
                                       f"({grid[n, d][0]['rss_before_mb']:.0f})" if (n, d) in grid else "—"
                                       for d in drifts] for n in sizes])
        print("Every grid cell (medians; phases: scan + sort, then the windows' diff):\n")
        rows = []
        for (n, d), runs in grid.items():
            c = runs[0]["counts"]
            rows.append([size_text(n), f"{d:g}%", len(runs), med(runs, "wall_s"), med(runs, "cpu_s"), med(runs, "sort_s"),
                         f"{statistics.median(map(windows_s, runs)):.1f}",
                         f"{max(r['peak_rss_mb'] for r in runs):.0f}", runs[0]["runs"],
                         f"{runs[0]['store_mb']:.0f} / {max(r['spill_peak_mb'] for r in runs):.0f}",
                         f"{runs[0]['fetched']:,}", f"{c['inserts']:,} / {c['updates']:,} / {c['deletes']:,}",
                         f"{runs[0]['fetch_calls']}"])
        print_table(["rows", "drift", "runs", "wall s", "cpu s", "scan+sort s", "windows s", "peak RSS MB", "sorted runs",
                     "store / peak spill MB", "keys fetched", "I / U / D", "fetch calls"], rows)
    if trade:
        print(f"The ceiling trade, {args.trade_size} rows, 1% drift, (pk, hash):\n")
        print_table(["ceiling (rows)", "wall s", "cpu s", "scan+sort s", "peak RSS MB", "sorted runs", "peak spill MB"],
                    [["all (N+1)" if c > parse_size(args.trade_size) else size_text(c), med(r, "wall_s"), med(r, "cpu_s"),
                      med(r, "sort_s"), f"{max(x['peak_rss_mb'] for x in r):.0f}", r[0]["runs"],
                      f"{max(x['spill_peak_mb'] for x in r):.0f}"] for c, r in sorted(trade.items())])
    if mode:
        print(f"Whole rows against (pk, hash), {args.mode_size} rows, ceiling {size_text(ceiling)}:\n")
        print_table(["mode", "drift", "runs", "wall s", "cpu s", "scan+sort s", "windows s", "peak RSS MB", "sorted runs",
                     "store / peak spill MB", "keys fetched"],
                    [[m, f"{d:g}%", len(r), med(r, "wall_s"), med(r, "cpu_s"), med(r, "sort_s"), f"{statistics.median(map(windows_s, r)):.1f}",
                      f"{max(x['peak_rss_mb'] for x in r):.0f}", r[0]["runs"],
                      f"{r[0]['store_mb']:.0f} / {max(x['spill_peak_mb'] for x in r):.0f}", f"{r[0]['fetched']:,}"]
                     for (m, d), r in mode.items()])


if __name__ == "__main__":
    main()
