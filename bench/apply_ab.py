"""Apply (or validate) A/B: ``python bench/apply_ab.py --checkouts DIR_A DIR_B [options]``.

Builds one scenario's tables once (as ``run.py`` does), emits its change file once, then
times ``targetsync apply`` of that same file from each checkout in turn, ``--rounds``
times, putting the drifted target back before every run. Alternating the checkouts puts
both under the same machine noise; it prints every time and the medians. With
``--command validate`` it times ``validate`` of the same tables instead (nothing to reset).

    python bench/apply_ab.py --checkouts /tmp/old /tmp/new --scenario pg-maria --size 1M --drift 50
    python bench/apply_ab.py --checkouts /tmp/old /tmp/new --scenario maria-pg --command validate
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench import datagen  # noqa: E402
from bench.run import SCENARIOS, SIZES, Side, drop_databases, ts, write_run  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkouts", nargs="+", required=True, help="project directories to time, in turn")
    ap.add_argument("--scenario", default="pg-pg", choices=sorted(SCENARIOS))
    ap.add_argument("--size", default="1M", choices=sorted(SIZES))
    ap.add_argument("--drift", type=float, default=10.0, help="percent of rows changed")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--command", default="apply", choices=("apply", "validate"))
    ap.add_argument("--work", default="/tmp/targetsync-apply-ab")
    ap.add_argument("--db-prefix", default="tsab")
    args = ap.parse_args(argv)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    s_kind, t_kind = SCENARIOS[args.scenario]
    src, tgt = Side.make(s_kind, "src", work, args.db_prefix), Side.make(t_kind, "tgt", work, args.db_prefix)
    try:
        n = SIZES[args.size]
        datagen.build(src.kind, src.info, n, args.drift, "source")
        datagen.build(tgt.kind, tgt.info, n, args.drift, "target")
        write_run(work, src, tgt, 10_000, 2)
        env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
        subprocess.run(ts("schema", "--config", str(work / "schema.cfg")), check=True, env=env, cwd=work,
                       stdout=subprocess.DEVNULL)
        applying = args.command == "apply"
        if applying:
            subprocess.run(ts("emit", "--config", str(work / "emit.cfg")), check=True, env=env, cwd=work,
                           stdout=subprocess.DEVNULL)
            shutil.copytree(work / "emit", work / "emit.keep")
        command = ts("apply", "--config", str(work / "apply.cfg")) if applying else \
            ts("validate", "--config", str(work / "emit.cfg"))
        times: dict[str, list[float]] = {c: [] for c in args.checkouts}
        for _ in range(args.rounds):
            for checkout in args.checkouts:
                if applying:
                    datagen.reset(tgt.kind, tgt.info)
                    for d in ("emit", "done"):
                        shutil.rmtree(work / d, ignore_errors=True)
                    shutil.copytree(work / "emit.keep", work / "emit")
                t0 = time.monotonic()
                r = subprocess.run(command, cwd=work, env={**os.environ, "PYTHONPATH": str(Path(checkout).resolve())},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if r.returncode not in ((0,) if applying else (0, 1)):
                    raise RuntimeError(f"{args.command} from {checkout} exited {r.returncode}: {r.stderr[-2000:]}")
                times[checkout].append(time.monotonic() - t0)
                print(f"{checkout}: {times[checkout][-1]:.2f} s", flush=True)
        for checkout, ts_ in times.items():
            print(f"median {checkout}: {statistics.median(ts_):.2f} s  ({', '.join(f'{t:.2f}' for t in ts_)})")
    finally:
        drop_databases(args.db_prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
