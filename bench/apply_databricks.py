"""Databricks apply rate on the stand-in: ``python bench/apply_databricks.py [--changes 60000] [--rounds 3]``.

Uses the test tier's Databricks (``tests/conformance/cloud/databricks.py``: the adapter's
SQL translated onto a PostgreSQL database of its own, S3 on moto's server started on a
free port and stopped by PID at exit) with ``app.items (id BIGINT, v STRING, n BIGINT, f
DOUBLE, d DECIMAL(18,4))`` holding ``--base`` rows, and times
:meth:`DatabricksApplier.apply_file` of one change file's batches (a third I records of new
rows, a third U records setting two columns of existing rows, a third D records; in the
loader's chunks of ``CHUNK_RECORDS``), ``--rounds`` times, each on a fresh database.
Prints each time, the time in its steps (staging to S3, COPY INTO, DELETE/MERGE) and the
median changed rows per second.

The stand-in is not the service: PostgreSQL on this machine runs the MERGEs, moto keeps
the objects in memory, and no statement crosses a network to a warehouse (each costs
~0.3-2 s there, and COPY INTO and MERGE run on many cores), so the rate says what the
adapter's own work costs (rendering the JSON lines, uploading through boto3, the
statements), not what a Databricks warehouse sustains. Decoding the ``.ckt`` is not timed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.changefile import ME, applied, filled, timed  # noqa: E402


def one_round(changes: int, base: int, run: int) -> tuple[float, int, dict]:
    from tests.conformance.cloud.databricks import backend
    with tempfile.TemporaryDirectory(prefix="ts-bench-dbx-") as tmp, backend(Path(tmp), "bench") as b:
        table, batches = filled(b, base, changes)
        db = b.db
        ap = db.open_applier()
        ap.acquire_lease(ME, 600)
        steps = {"stage": 0.0, "copy": 0.0, "merge": 0.0}
        ap.stage.put = timed(steps, lambda key: "stage", ap.stage.put)
        ap.sql = timed(steps, lambda text: "copy" if text.startswith(("COPY", "TRUNCATE")) else
                       "merge" if text.startswith(("MERGE INTO `app`", "DELETE")) else None, ap.sql)
        return (*applied(b, db, ap, table, batches, base, run), steps)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=60_000, help="changed rows a file holds (I, U, D a third each)")
    ap.add_argument("--base", type=int, default=60_000, help="rows the table holds before")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    rates = []
    for r in range(args.rounds):
        took, records, steps = one_round(args.changes, args.base, r)
        rates.append(records / took)
        print(f"round {r + 1}: {records} changed rows in {took:.2f} s ({records / took:,.0f} rows/s); staging "
              f"{steps['stage']:.2f} s, truncate+COPY INTO {steps['copy']:.2f} s, DELETE+MERGE {steps['merge']:.2f} s",
              flush=True)
    print(f"median: {statistics.median(rates):,.0f} changed rows/s ({args.rounds} rounds, {args.changes} changes "
          f"on {args.base} rows; stand-in: PostgreSQL + moto, not a warehouse)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
