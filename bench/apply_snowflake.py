"""Snowflake apply rate on the stand-in: ``python bench/apply_snowflake.py [--rows N] [--rounds 3]``.

A SQLite source of ``--rows`` rows and a Snowflake target (fakesnow run as a server, as the
tests run it: ``tests/conformance/cloud/snowflake.py``) drifted so that a third of the
source's rows are missing (I records), a third differ in two columns (U), and a third as
many rows again exist only on the target (D). The change file is emitted once; then
``targetsync apply`` of it is timed ``--rounds`` times, the target put back (rows and
applied-file record) before each, and the changed rows applied per second printed with
the median. fakesnow is DuckDB behind Snowflake's protocol on this machine: its rate says
what the adapter's path costs here (Parquet, PUT, COPY, the transaction's DML), not what
the service does.
"""
from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from targetsync_core.cli import main as targetsync  # noqa: E402
from targetsync_core.model.schema import Column, Table  # noqa: E402
from targetsync_core.model.types import Kind  # noqa: E402
from tests.conformance.backends import sqlite_backend, write_configs  # noqa: E402
from tests.conformance.cloud.snowflake import backend as snowflake_backend  # noqa: E402

COLUMNS = (Column("id", Kind.INT64, False), Column("name", Kind.VARCHAR, length=40), Column("qty", Kind.INT32),
           Column("price", Kind.DECIMAL, precision=12, scale=2), Column("at", Kind.TIMESTAMP, precision=6))


def row(i: int, changed: bool = False) -> tuple:
    return (i, f"item {i}{' (old)' if changed else ''}", i % 97 + (5 if changed else 0), f"{i % 1000}.25",
            dt.datetime(2024, 1, 1) + dt.timedelta(seconds=i))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=30_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    n = args.rows
    work = Path(tempfile.mkdtemp(prefix="ts-bench-snowflake-"))
    try:
        with sqlite_backend(work, "src") as src, snowflake_backend(work, "tgt") as tgt:
            conn = sqlite3.connect(src.path)
            conn.execute("CREATE TABLE items (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(40), qty INT, "
                         "price DECIMAL(12,2), at TIMESTAMP(6))")
            conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?)",
                             [(i, name, q, p, at.isoformat(" ")) for i, name, q, p, at in map(row, range(1, n + 1))])
            conn.commit()
            conn.close()
            write_configs(work, src, tgt, ["items"], window_size=10_000, max_threads=2, file_mb=64)
            (work / "apply.cfg").write_text("targetType=snowflake\ntargetDsnFile=target.dsn\nschemaFile=schema.skt\n"
                                            "inputDirectory=emit\ndoneDirectory=done\n")
            assert targetsync(["schema", "--config", str(work / "schema.cfg"), "--apply"]) == 0
            table = Table(tgt.schema, "items", COLUMNS, ("id",))
            drifted = [row(i, changed=i % 3 == 1) for i in range(1, n + 1) if i % 3] + \
                      [row(i) for i in range(n + 1, n + 1 + n // 3)]
            changes = n // 3 + sum(1 for i in range(1, n + 1) if i % 3 == 1) + n // 3

            def reset(applied: bool = True):
                tgt.raw.execute(f'DELETE FROM "{tgt.schema}"."items"')
                if applied:
                    tgt.raw.execute('DELETE FROM "_targetsync"."applied"')
                tgt.insert(table, drifted)
            reset(applied=False)
            assert targetsync(["emit", "--config", str(work / "emit.cfg")]) == 0
            shutil.copytree(work / "emit", work / "emit.keep")
            times = []
            for r in range(args.rounds):
                if r:
                    reset()
                shutil.rmtree(work / "emit")
                shutil.rmtree(work / "done", ignore_errors=True)
                shutil.copytree(work / "emit.keep", work / "emit")
                start = time.perf_counter()
                assert targetsync(["apply", "--config", str(work / "apply.cfg")]) == 0
                times.append(time.perf_counter() - start)
                print(f"round {r + 1}: {changes} changed rows in {times[-1]:.2f} s = {changes / times[-1]:,.0f} rows/s")
            assert len(tgt.read(table)) == n
            med = statistics.median(times)
            print(f"median: {changes} changed rows ({n // 3} I, {changes - 2 * (n // 3)} U, {n // 3} D) "
                  f"in {med:.2f} s = {changes / med:,.0f} rows/s (fakesnow, not the service)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
