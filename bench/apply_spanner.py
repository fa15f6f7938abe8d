"""Spanner apply rate on the emulator: ``python bench/apply_spanner.py [--changes 60000] [--rounds 3]``.

Starts Google's Cloud Spanner emulator on a free port (stopped by PID at exit), makes a
database with ``app.items (id INT64, v STRING(40), n INT64, f FLOAT64, d NUMERIC)`` holding
``--base`` rows, then times :meth:`SpannerApplier.apply_file` of one change file's batches
(by default a third I records of new rows, a third U records setting two columns of
existing rows, a third D records; ``--ops I`` for one kind alone), ``--rounds`` times, each on a freshly loaded database. Prints each time,
the commits a file took, and the median changed rows per second.

The emulator is not the service: it commits locally, one read-write transaction at a time,
without replication or network round trips, so its rate says what the adapter's own work
(mutation building, the U-key reads, chunking) costs, not what Spanner sustains. Decoding
the ``.ckt`` file is not timed (the loader's cost, the same for every target).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from targetsync_core.adapters.base import LeaseHolder, TableBatch  # noqa: E402
from targetsync_core.model.schema import Column, Table  # noqa: E402
from targetsync_core.model.types import Kind  # noqa: E402

ITEMS = Table("app", "items", (Column("id", Kind.INT64, False), Column("v", Kind.VARCHAR, length=40),
                               Column("n", Kind.INT64), Column("f", Kind.FLOAT64),
                               Column("d", Kind.DECIMAL, precision=18, scale=4)), ("id",))
ME = LeaseHolder("bench", socket.gethostname(), os.getpid())


@contextlib.contextmanager
def emulator():
    from tests.conformance.cloud.spanner import emulator_binary
    from tests.standins import free_port
    binary = emulator_binary()
    if binary is None:
        sys.exit("no Cloud Spanner emulator (gcloud components install cloud-spanner-emulator)")
    port = free_port()
    work = tempfile.mkdtemp(prefix="ts-bench-spanner-")
    proc = subprocess.Popen([str(binary), f"--host_port=127.0.0.1:{port}"], cwd=work, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            time.sleep(0.1)
        os.environ["SPANNER_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        yield
    finally:
        proc.kill()
        proc.wait()


def row(i: int, tag: str) -> tuple:
    return (i, f"{tag}-{i}", i * 7, i / 3, Decimal(i) / 16)


def fresh_database(base: int) -> str:
    """A new database holding ``base`` rows (ids 0, 2, 4, …), loaded through the client."""
    from tests.conformance.cloud.spanner import PROJECT, Raw, client, instance
    from targetsync_core.adapters.spanner.adapter import SpannerDatabase
    inst = instance(client(PROJECT), "bench", True)
    name = "b" + uuid.uuid4().hex[:20]
    db = inst.database(name)
    db.create().result(120)
    raw = Raw(db, "app")
    ddl = SpannerDatabase.generate_ddl([ITEMS])
    raw.execute(ddl["c.sql"])
    for start in range(0, base, 10_000):
        raw.insert(ITEMS, [row(i * 2, "base") for i in range(start, min(base, start + 10_000))])
    return f"spanner://projects/{PROJECT}/instances/bench/databases/{name}"


def change_file(changes: int, base: int, ops: str = "IUD") -> TableBatch:
    """``changes`` records shared evenly by the record types in ``ops``: I of new rows, U
    setting two columns of existing rows, D of others (no key twice)."""
    each = changes // len(ops)
    inserts = [row(2 * base + 2 * i + 1, "new") for i in range(each)] if "I" in ops else []
    updates = [((2 * i,), (f"upd-{i}", -i)) for i in range(each)] if "U" in ops else []
    deletes = [(2 * (base - 1 - i),) for i in range(each)] if "D" in ops else []
    assert not {u[0] for u in updates} & set(deletes), "a key changed twice: raise --base"
    return TableBatch(ITEMS, inserts, deletes, {(1, 2): updates} if updates else {})


def one_round(url: str, batch: TableBatch, run: int) -> tuple[float, int]:
    from targetsync_core.adapters.spanner import applier as A
    from targetsync_core.adapters.spanner.adapter import SpannerDatabase
    from targetsync_core.dsn import parse_dsn
    db = SpannerDatabase.from_dsn("spanner", parse_dsn(url))
    ap = db.open_applier()
    ap.acquire_lease(ME, 600)
    commits = []
    real = A.SpannerApplier._commit_chunk

    def counted(self, tx, chunk, *args):
        commits.append(len(chunk))
        return real(self, tx, chunk, *args)
    A.SpannerApplier._commit_chunk = counted
    try:
        start = time.perf_counter()
        ap.apply_file(f"bench-{run}", 0, [batch], ME, 600)
        took = time.perf_counter() - start
    finally:
        A.SpannerApplier._commit_chunk = real
    assert not ap.missed, ap.missed
    return took, len(commits)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=60_000, help="changed rows a file holds (I, U, D a third each)")
    ap.add_argument("--base", type=int, default=60_000, help="rows the table holds before")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ops", default="IUD", help="the record types of the file, e.g. IUD (mixed), I, U or D")
    args = ap.parse_args(argv)
    batch = change_file(args.changes, args.base, args.ops)
    rates = []
    with emulator():
        for r in range(args.rounds):
            url = fresh_database(args.base)
            took, commits = one_round(url, batch, r)
            rates.append(batch.records / took)
            print(f"round {r + 1}: {batch.records} changed rows in {took:.2f} s over {commits} commit(s): "
                  f"{batch.records / took:,.0f} rows/s", flush=True)
    print(f"median: {statistics.median(rates):,.0f} changed rows/s ({args.rounds} rounds, {batch.records} changes "
          f"({args.ops}) on {args.base} rows, emulator)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
