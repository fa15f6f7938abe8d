"""Firebolt apply rate on the stand-in: ``python bench/apply_firebolt.py [--changes 60000] [--rounds 3]``.

Uses the test tier's Firebolt (``tests/conformance/cloud/firebolt.py``: firebolt-sdk's
HTTP calls answered by the in-process stand-in, which runs the SQL on a PostgreSQL
database of its own; S3 on moto's server, started on a free port and stopped by PID at
exit) with ``public.items (id BIGINT, v TEXT, n BIGINT, f DOUBLE PRECISION, d
NUMERIC(18, 4))`` holding ``--base`` rows, and times :meth:`FireboltApplier.apply_file` of
one change file (a third I records of new rows, a third U records setting two columns of
existing rows, a third D records; in the loader's chunks of ``CHUNK_RECORDS``),
``--rounds`` times, each on a fresh database. Prints each time, the time in its steps
(staging the CSV to S3, ``COPY INTO`` the shadow, DELETE/INSERT/UPDATE) and the median
changed rows per second.

The stand-in is not the service: PostgreSQL on this machine runs the statements, the
stand-in fetches each staged object from moto (in memory) itself, and no statement crosses
a network to a Firebolt engine (each costs tens of milliseconds or more there, and an
engine's COPY FROM reads S3 on many cores), so the rate says what the adapter's own work
costs (rendering the CSV, uploading through boto3, the statements through firebolt-sdk),
not what a Firebolt engine sustains. Decoding the ``.ckt`` is not timed.
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
    from tests.conformance.cloud.firebolt import firebolt_backend
    with tempfile.TemporaryDirectory(prefix="ts-bench-fb-") as tmp, firebolt_backend(Path(tmp), "bench") as (b, _, _):
        table, batches = filled(b, base, changes)
        db = b.db
        ap = db.open_applier()
        ap.acquire_lease(ME, 600)
        steps = {"stage": 0.0, "copy": 0.0, "apply": 0.0}
        ap.stage.put = timed(steps, lambda key: "stage", ap.stage.put)
        ap.sql = timed(steps, lambda text: "copy" if text.startswith(("COPY", "DELETE FROM \"public\".\"_targetsync_items_wkm"))
                       else "apply" if text.startswith(("DELETE", "INSERT INTO \"public\".\"items\"", "UPDATE",
                                                        "SELECT count")) else None, ap.sql)
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
              f"{steps['stage']:.2f} s, empty shadow + COPY INTO {steps['copy']:.2f} s, "
              f"DELETE/INSERT/UPDATE {steps['apply']:.2f} s", flush=True)
    print(f"median: {statistics.median(rates):,.0f} changed rows/s ({args.rounds} rounds, {args.changes} changes "
          f"on {args.base} rows; stand-in: firebolt-sdk → local HTTP → PostgreSQL + moto, not a Firebolt engine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
