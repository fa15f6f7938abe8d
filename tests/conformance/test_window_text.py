"""Adapters that render windows as text lines (``line_format``) decode those lines to
exactly the rows ``read_window`` returns, for every kind and for nasty values."""
from __future__ import annotations

import random

import pytest

from targetsync_core.adapters.registry import adapter_class
from targetsync_core.diff.merge import split_lines
from targetsync_core.diff.windows import Window
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS
from tests.helpers import VALUE_COLUMNS, random_value

#: backend names are their type names
TEXTUAL = [k for k in BACKENDS if adapter_class(k, "type", "source").line_format is not None]


def test_postgres_renders_lines():
    assert "postgres" in TEXTUAL


@pytest.mark.parametrize("kind", TEXTUAL)
def test_text_lines_decode_to_the_rows_read_window_returns(tmp_path, kind):
    with BACKENDS[kind](tmp_path, "txt") as side:
        db = side.db
        t = Table(side.schema, "types", (Column("id", Kind.INT64, False), *VALUE_COLUMNS), ("id",))
        lim = side.limits
        rng = random.Random(7)
        rows = [(i, *[None if rng.random() < 0.1 else random_value(rng, c, lim.max_integer) for c in VALUE_COLUMNS])
                for i in range(300)]
        rows = [tuple(0.5 if isinstance(v, float) and v != v and not lim.nonfinite_floats else v for v in r)
                for r in rows]
        side.create([t])
        side.insert(t, rows)
        whole = Window(0, 0, None, None)
        expect = [repr(r) for r in db.read_window(t, whole)]  # repr: NaN equals NaN
        text = db.read_window_text(t, whole)
        assert [repr(r) for r in text.parse(split_lines(text.lines))] == expect
        half = Window(0, 1, (150,), None)
        part = db.read_window_text(t, half)
        assert [repr(r) for r in part.parse(split_lines(part.lines))] == expect[150:]
        db.close()


CHECKSUMMING = [k for k in BACKENDS if adapter_class(k, "type", "source").checksum_format is not None]


def test_postgres_checksums_windows():
    assert "postgres" in CHECKSUMMING


@pytest.mark.parametrize("kind", CHECKSUMMING)
def test_window_checksums_match_exactly_when_rows_match(tmp_path, kind):
    """Equal rows give equal checksums whatever the physical column order; any single
    changed value (a case-only change under a case-insensitive collation too) changes it."""
    with BACKENDS[kind](tmp_path, "a") as a, BACKENDS[kind](tmp_path, "b") as b:
        t = Table(a.schema, "types", (Column("id", Kind.INT64, False), *VALUE_COLUMNS), ("id",))
        flipped = Table(b.schema, "types", (*reversed(VALUE_COLUMNS), Column("id", Kind.INT64, False)), ("id",))
        rng = random.Random(11)
        lim = a.limits
        rows = [(i, *[None if rng.random() < 0.1 else random_value(rng, c, lim.max_integer) for c in VALUE_COLUMNS])
                for i in range(200)]
        a.create([t])
        b.create([flipped])
        a.insert(t, rows)
        b.insert(flipped, [tuple(reversed(r)) for r in rows])
        tb = t.renamed(b.schema)
        whole, low = Window(0, 0, None, None), Window(0, 0, None, (100,))
        assert a.db.window_checksum(t, whole) == b.db.window_checksum(tb, whole)
        assert a.db.window_checksum(t, whole)[0] == 200
        assert a.db.window_checksum(t, low) == b.db.window_checksum(tb, low)
        assert a.db.window_checksum(t, low) != a.db.window_checksum(t, whole)
        b.execute(f'UPDATE "{b.schema}"."types" SET "c_vc" = \'Mixed\' WHERE id = 150')
        a.execute(f'UPDATE "{a.schema}"."types" SET "c_vc" = \'mixed\' WHERE id = 150')
        for side in (a, b):
            side.execute(f'CREATE COLLATION IF NOT EXISTS "{side.schema}".ci (provider = icu, '
                         f"locale = 'und-u-ks-level2', deterministic = false);"
                         f'ALTER TABLE "{side.schema}"."types" ALTER COLUMN "c_vc" TYPE varchar(60) '
                         f'COLLATE "{side.schema}".ci')
        assert a.db.window_checksum(t, low) == b.db.window_checksum(tb, low)
        assert a.db.window_checksum(t, whole) != b.db.window_checksum(tb, whole)
        for col in VALUE_COLUMNS:
            b.execute(f'UPDATE "{b.schema}"."types" SET "c_vc" = \'mixed\' WHERE id = 150')
            assert a.db.window_checksum(t, whole) == b.db.window_checksum(tb, whole)
            value = next(v for v in (random_value(rng, col, lim.max_integer) for _ in range(50))
                         if repr(v) != repr(rows[42][t.columns.index(col)]))
            update_value(b, col, value)
            assert a.db.window_checksum(t, whole) != b.db.window_checksum(tb, whole), col.name
            update_value(b, col, rows[42][t.columns.index(col)])
        a.db.close()
        b.db.close()


def update_value(side, col: Column, value) -> None:
    import psycopg
    cast = "::json" if col.kind is Kind.JSON else ""
    with psycopg.connect(side.url, autocommit=True) as conn:
        conn.execute(f'UPDATE "{side.schema}"."types" SET "{col.name}" = %s{cast} WHERE id = 42', (value,))
