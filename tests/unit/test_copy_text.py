"""The staging reader (``ckt.StagingDecoder`` with ``postgres.copytext``): the records it
stages are exactly those the fast reader decodes, and each staged body, read back as
PostgreSQL reads COPY text (``fuzz.targets.read_copy_body``), holds the values the strict
decoder gives. The loader's batches number update groups alike for staged lines and
Python rows. (Against a real server: tests/conformance/test_pg_copy_text.py.)"""
from __future__ import annotations

import pytest
from hypothesis import given, settings

from fuzz.targets import read_copy_body
from targetsync_core.adapters.postgres import copytext
from targetsync_core.codec.ckt import TableCodec
from targetsync_core.load.loader import read_batches
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.unit.test_fast_decode import (CHANGED, EDGES, ONE, WIDE, WIDE_CODEC, WIDE_ROWS, fast_decode,
                                          strict_tuple, wide_lines)


def staging(table: Table) -> TableCodec:
    codec = TableCodec(table)
    codec.stage(copytext.renderers(table.columns))
    return codec


WIDE_STAGED = staging(WIDE)


def read_back(table: Table, op: str, got: tuple) -> tuple:
    """A staging decoder's result in the strict decoder's form (``strict_tuple``)."""
    key, offsets, body = got
    row = read_copy_body(table, body)
    assert tuple(row[p] for p in table.key_positions) == key
    written = set(table.key_positions) | set(range(len(row)) if op == "I" else offsets or ())
    assert all(row[p] is None for p in range(len(row)) if p not in written), body
    payload = row if op == "I" else None if op == "D" else (offsets, tuple(row[p] for p in offsets))
    return key, payload, None


@settings(max_examples=300)
@given(row=WIDE_ROWS, changed=CHANGED)
def test_every_kind_stages_what_the_strict_decoder_reads(row, changed):
    c = WIDE_CODEC
    for line in wide_lines(row, changed):
        staged = fast_decode(WIDE_STAGED, line)
        assert (staged is None) == (fast_decode(c, line) is None), line
        if staged is not None:
            op, name, *fields = line[:-2].split("\t")
            assert repr((op, name, *read_back(WIDE, op, staged))) == repr(
                strict_tuple(c.decode_fields(op, fields, ("f", 1))))


@pytest.mark.parametrize("kind,text,path", EDGES)
def test_edges_are_staged_only_where_the_fast_reader_reads_them(kind, text, path):
    line = f"I\ts.one\t1\t{text}\t\n"
    staged = fast_decode(staging(ONE[kind]), line)
    assert (staged is not None) == (path == "fast")
    if staged is not None:
        op, name, *fields = line[:-2].split("\t")
        assert repr((op, name, *read_back(ONE[kind], op, staged))) == repr(
            strict_tuple(TableCodec(ONE[kind]).decode_fields(op, fields, ("f", 1))))


def test_strings_are_escaped_and_floats_written_as_postgresql_reads_them():
    t = Table("s", "e", (Column("k", Kind.TEXT, False), Column("f", Kind.FLOAT64), Column("b", Kind.BLOB)), ("k",))
    c = staging(t)
    line = c.encode_insert(("a\\b\tc\nd\re\\N", 1.5, b"\\\x00"))
    assert fast_decode(c, line)[2] == "a\\\\b\\tc\\nd\\re\\\\N\t1.5\t\\\\x5c00\n"
    huge = line.replace("\t1.5\t", "\t1e400\t")
    assert fast_decode(c, huge) is None   # no double's text: the strict decoder refuses it


class _Codecs(dict):
    def get(self, name):
        return self[name]


def test_update_groups_are_numbered_alike_for_staged_and_python_rows(tmp_path):
    t = Table("s", "g", (Column("id", Kind.INT64, False), Column("a", Kind.INT32), Column("b", Kind.TEXT)), ("id",))
    c = staging(t)
    big = 2**63 - 1   # past int64's fast form: decoded strictly, into Python values
    lines = [c.encode_update((1,), [(2, "x")]), c.encode_update((2,), [(1, 5)]), c.encode_delete((3,)),
             c.encode_insert((4, 1, "y")), c.encode_update((big - 1,), [(1, 6)]),
             c.encode_update((big,), [(1, 7), (2, None)])]
    path = tmp_path / "0.ckt"
    path.write_text("".join(lines), encoding="utf-8")
    [batch] = [b for chunk in read_batches(path, _Codecs({c.name: c})) for b in chunk]
    assert list(batch.updates) == [(2,), (1,), (1, 2)]
    assert batch.updates == {(2,): [], (1,): [((big - 1,), (6,))], (1, 2): [((big,), (7, None))]}
    assert batch.staged == ["U\t0\t1\t\\N\tx\n", "U\t1\t2\t5\t\\N\n", "D\t\\N\t3\t\\N\t\\N\n",
                            "I\t\\N\t4\t1\ty\n"]
    assert batch.staged_ops == {"I": 1, "U": 2, "D": 1}
    assert (batch.count("I"), batch.count("U"), batch.count("D"), batch.records) == (1, 4, 1, 6)
