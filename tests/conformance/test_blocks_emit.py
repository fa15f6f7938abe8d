"""Emit and validate where windows are not read row by row (issue 5): between two
PostgreSQL databases block by block in their own block format, and as canonical text
lines where blocks do not pay; between PostgreSQL and MariaDB as canonical text lines. The changes are exactly the drift,
blocks are used where drift is sparse and given up where it is dense, and a sync leaves
both sides equal."""
from __future__ import annotations

import random

import pytest

from targetsync_core.adapters.sql.canonical import LINES
from targetsync_core.adapters.mysql import adapter as my
from targetsync_core.adapters.postgres import adapter as pg
from targetsync_core.cli import main
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS, write_configs
from tests.conformance.test_conformance import assert_same


def table(schema: str, name: str) -> Table:
    c = Column
    return Table(schema, name, (c("v", Kind.VARCHAR, length=20), c("id", Kind.INT32, False), c("n", Kind.FLOAT64)),
                 ("id",))


def drifted(rng, rows: list[tuple], share: float) -> tuple[list[tuple], dict]:
    """The target: ``share`` of rows changed, deleted or doubled by a target-only key,
    plus a run of consecutive changes and rows past both ends of the key range."""
    out, expect = {}, {"inserts": 0, "updates": 0, "deletes": 0}
    for i, (v, k, n) in enumerate(rows):
        x = rng.random()
        if x < share / 3 or 500 <= i < 520:
            out[k] = (v + "!", k, n)
            expect["updates"] += 1
        elif x < 2 * share / 3:
            expect["inserts"] += 1        # missing in the target
        else:
            out[k] = (v, k, n)
            if x < share:
                out[k + 1] = ("only", k + 1, None)
                expect["deletes"] += 1
    for k in (-10**6, 10**6):
        out[k] = ("edge", k, 1.0)
        expect["deletes"] += 1
    return sorted(out.values(), key=lambda r: r[1]), expect


def write_cfg(d, src, tgt, names) -> None:
    write_configs(d, src, tgt, names, window_size=100, max_threads=3, file_mb=0.05)


PAIRS = [("postgres", "postgres"), ("postgres", "mariadb"), ("mariadb", "postgres")]


def count_calls(monkeypatch, calls: dict) -> None:
    """Count, by table name, block sums, whole-window reads of rows or of the engine's own
    lines, and whole-window reads of canonical lines (on either side)."""
    def counted(cls, attr, how):
        real = getattr(cls, attr)

        def wrapper(self, *args):
            table = self.table if how == "blocks" else args[0]
            calls[table.name, "lines" if LINES in args else how] += 1
            return real(self, *args)
        monkeypatch.setattr(cls, attr, wrapper)
    for cls in (pg.PostgresBlocks, my.MysqlBlocks):
        counted(cls, "sums", "blocks")
    for cls in (pg.PostgresDatabase, my.MysqlDatabase):
        counted(cls, "read_window_text", "whole")
        counted(cls, "read_window", "whole")


@pytest.mark.parametrize("source_kind,target_kind", PAIRS, ids=[f"{s}-to-{t}" for s, t in PAIRS])
def test_windows_are_read_by_blocks_or_canonical_lines(tmp_path, monkeypatch, capsys, source_kind, target_kind):
    calls = {(n, how): 0 for n in ("sparse", "dense") for how in ("blocks", "whole", "lines")}
    count_calls(monkeypatch, calls)
    rng = random.Random(5)
    with BACKENDS[source_kind](tmp_path, "src") as src, BACKENDS[target_kind](tmp_path, "tgt") as tgt:
        expected = {}
        for name, share in (("sparse", 0.01), ("dense", 0.6)):
            rows = [(f"v{k}", k, rng.random()) for k in range(-3000, 3000, 2)]
            target_rows, expected[name] = drifted(rng, rows, share)
            src.create([table(src.schema, name)])
            tgt.create([table(tgt.schema, name)])
            src.insert(table(src.schema, name), rows)
            tgt.insert(table(tgt.schema, name), target_rows)
        write_cfg(tmp_path, src, tgt, expected)
        assert main(["schema", "--config", str(tmp_path / "schema.cfg")]) == 0
        capsys.readouterr()
        assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 1
        report = capsys.readouterr().out
        for name, e in expected.items():
            line = next(x for x in report.splitlines() if x.startswith((f"{src.schema}.{name} ", f"{tgt.schema}.{name} ")))
            counts = [int(f.replace(",", "")) for f in line.split()[1:]]
            assert counts == [3000, 3000 - e["inserts"] + e["deletes"], e["inserts"], e["updates"], e["deletes"]]
        if source_kind == target_kind:
            # 30 windows a table: no sparse one was read whole (each was proved unchanged
            # by its checksum or read by blocks); dense ones were, as canonical lines (the
            # table has them), after a few blocks that did not pay
            assert calls["sparse", "whole"] == calls["sparse", "lines"] == 0 and calls["sparse", "blocks"] >= 10, calls
            assert calls["dense", "blocks"] <= 2 * 12 and calls["dense", "lines"] >= 2 * 19, calls
            assert calls["dense", "whole"] == 0, calls
        else:   # across engines every window is read as canonical lines, on both sides
            assert calls["sparse", "lines"] == calls["dense", "lines"] == 2 * 30, calls
            assert sum(calls[n, how] for n in expected for how in ("blocks", "whole")) == 0, calls
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
        assert_same(src, tgt, [table(src.schema, n) for n in expected], [table(tgt.schema, n) for n in expected])
        capsys.readouterr()
        assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0
