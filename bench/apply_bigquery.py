"""BigQuery apply rate on the emulator: ``python bench/apply_bigquery.py [--changes 20000] [--rounds 3]``.

Starts bqemulator (as the tests do, ``tests/conformance/cloud``), makes a table of
``--rows`` rows (id INT64 key, a STRING, a NUMERIC(12, 2), a TIMESTAMP) by a load job,
then times the BigQuery applier applying one change file of ``--changes`` records (a
third inserts, a third updates of one column, a third deletes) — the load job into the
staging table and the one transaction script — ``--rounds`` times, the table rebuilt
before each, and prints each time and the median in changed rows per second.

An emulator is not the service: DuckDB in one process on this machine, no network, no
job scheduling; BigQuery's own figures are dominated by per-job latency (seconds), not
by rows.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from targetsync_core.adapters.base import LeaseHolder, TableBatch  # noqa: E402
from targetsync_core.adapters.bigquery import BigQueryDatabase  # noqa: E402
from targetsync_core.dsn import parse_dsn  # noqa: E402
from targetsync_core.model.schema import Column, Table  # noqa: E402
from targetsync_core.model.types import Kind  # noqa: E402
from tests.conformance.cloud import bigquery as cloud  # noqa: E402

COLUMNS = (Column("id", Kind.INT64, False), Column("name", Kind.VARCHAR, length=40),
           Column("amount", Kind.DECIMAL, precision=12, scale=2), Column("at", Kind.TIMESTAMPTZ, precision=6))
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def row(i: int, tag: str = "") -> tuple:
    return (i, f"name {i}{tag}", Decimal(i % 100000) / 100, T0 + dt.timedelta(seconds=i))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=60_000, help="rows in the table before each apply")
    ap.add_argument("--changes", type=int, default=30_000, help="records in the change file (I, U, D in thirds)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    service = cloud.emulator()
    url = f"bigquery://{cloud.PROJECT}/x?endpoint=http://{service.host_port}"
    third = args.changes // 3
    holder = LeaseHolder("bench", "bench-host", 1)
    times = []
    try:
        with cloud.dataset(url, "bench") as (dsn, client, ds):
            raw = cloud.Raw(client, ds)
            table = Table(ds, "orders", COLUMNS, ("id",))
            db = BigQueryDatabase.from_dsn("bigquery", parse_dsn(dsn))
            for r in range(args.rounds):
                raw.execute(f"DROP TABLE IF EXISTS `{ds}`.`orders`")
                db.execute_script(BigQueryDatabase.generate_ddl([table])["c.sql"])
                raw.insert(table, [row(i) for i in range(args.rows)])
                batch = TableBatch(table, upserts=[row(args.rows + i) for i in range(third)],
                                   deletes=[(i,) for i in range(0, 2 * third, 2)])
                batch.updates[(1,)] = [((i,), (f"renamed {i}",)) for i in range(1, 2 * third, 2)]
                applier = db.open_applier()
                try:
                    applier.acquire_lease(holder, 600)
                    t = time.perf_counter()
                    applier.apply_file(f"bench{r}", 0, [batch], holder, 600)
                    times.append(time.perf_counter() - t)
                    applier.release_lease(holder)
                finally:
                    applier.close()
                n = raw.query(f"SELECT COUNT(*) FROM `{ds}`.`orders`")[0][0]
                assert n == args.rows + third - third, n
                print(f"round {r + 1}: {batch.records} records in {times[-1]:.2f} s "
                      f"({batch.records / times[-1]:,.0f} rows/s)", flush=True)
    finally:
        service.stop()
    med = statistics.median(times)
    print(f"median of {len(times)}: {med:.2f} s, {3 * third / med:,.0f} changed rows/s "
          f"(table of {args.rows:,} rows; bqemulator 1.4.0, not the service)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
