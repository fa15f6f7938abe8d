"""Fuzz targets for the decoders of user-supplied input: ``.ckt`` change files, ``.skt``
schema files, config files and table lists.

Each target takes raw bytes and feeds them to the real decoder through a file, as a user
would. The decoder may accept the input or refuse it with the project's own error (one
line naming the file); anything else — another exception, a multi-line message, a
message that does not name the file — is a bug, raised as ``AssertionError``.

Used by the hypothesis tests in CI (``tests/unit/test_fuzz.py``) and by the atheris
driver for long manual runs (``fuzz/atheris_decoders.py``).
"""
from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path

from targetsync_core import config as C
from targetsync_core.adapters.postgres import copytext
from targetsync_core.adapters.postgres.adapter import copy_fields
from targetsync_core.codec.ckt import Change, TableCodec, read_changes, read_records
from targetsync_core.errors import TargetSyncError
from targetsync_core.model import skt
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import BINARY_KINDS, INTEGER_RANGES, STRING_KINDS, Kind

_DIR = Path(tempfile.mkdtemp(prefix="targetsync-fuzz-"))

TABLE = Table("s", "t", (
    Column("id", Kind.INT64, False), Column("name", Kind.VARCHAR, False, length=20), Column("b", Kind.BOOLEAN),
    Column("d", Kind.DECIMAL, precision=10, scale=2), Column("f", Kind.FLOAT64), Column("raw", Kind.BLOB),
    Column("day", Kind.DATE), Column("at", Kind.TIMESTAMPTZ, precision=6), Column("u", Kind.UUID),
    Column("t", Kind.TIME, precision=6), Column("j", Kind.JSON)), ("id", "name"))
CODEC = TableCodec(TABLE)
CODECS = {CODEC.name: CODEC}


def _seed_ckt() -> bytes:
    row = (7, "ké\ty", True, Decimal("-12.50"), float("nan"), b"\x00\xff", dt.date(2020, 2, 29),
           dt.datetime(2021, 1, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc), uuid.UUID(int=5), dt.time(1, 2, 3), "{}")
    lines = [CODEC.encode(Change("I", CODEC.name, (7, "ké\ty"), row=row)),
             CODEC.encode(Change("U", CODEC.name, (8, ""), changed=((3, Decimal("1.00")), (5, None)))),
             CODEC.encode(Change("D", CODEC.name, (-9, "z")))]
    return "".join(lines).encode()


SEEDS = {
    "ckt": _seed_ckt(),
    "skt": skt.dumps([TABLE]).encode(),
    "config": (b"sourceType=postgres\nsourceDsnFile=s.dsn\ntargetType=mariadb\ntargetDsnFile=t.dsn\n"
               b"tableFile=tables.txt\nschemaFile=x.skt\nemitOutputDirectory=out\nwindowSize=100\n"
               b"maxThreads=2\nschemaRename=a:b\nresume=true\ncheckpointDir=cp\n# comment\n"),
    "tables": b"public.orders\n# comment\n\nsales.\"Mixed Case\"\n",
}


def _write(name: str, data: bytes) -> Path:
    path = _DIR / f"{name}-{os.getpid()}"
    path.write_bytes(data)
    return path


def _refused(exc: TargetSyncError, path: Path | None) -> bool:
    text = str(exc)
    assert "\n" not in text, f"multi-line error: {text!r}"
    assert path is None or str(path) in text, f"error does not name the file: {text!r}"
    return False


def _decode(name: str, data: bytes, decode) -> bool:
    """Whether ``decode(path)`` accepted ``data`` (it must refuse it cleanly otherwise)."""
    path = _write(name, data)
    try:
        decode(path)
    except TargetSyncError as exc:
        return _refused(exc, path)
    return True


def _strictly(path: Path) -> list[tuple]:
    """What the loader's fast reader must yield, from the strict record decoder."""
    out = []
    for lineno, ch in read_records(str(path), CODECS):
        payload = (ch.row if ch.op == "I" else None if ch.op == "D"
                   else (tuple(p for p, _ in ch.changed), tuple(v for _, v in ch.changed)))
        out.append((lineno, ch.op, ch.table, ch.key, payload, None))
    return out


def _outcome(decode, path: Path) -> str:
    """The repr of what ``decode`` returned (it tells 1 from True and -0.0 from 0.0, and
    NaN equals NaN in it), or of the refusal it raised."""
    try:
        return repr(decode(path))
    except TargetSyncError as exc:
        return f"refused: {exc}"


def ckt(data: bytes) -> bool:
    """Decoded strictly, through the loader's fast reader, and through the fast reader
    staging PostgreSQL COPY text (its lines read back as PostgreSQL reads them): all
    three must agree on every value and on every refusal, word for word."""
    def decode(path: Path) -> None:
        strict = _outcome(_strictly, path)
        fast = _outcome(lambda p: list(read_changes(str(p), CODECS)), path)
        assert fast == strict, f"fast reader differs:\n{fast}\n{strict}"
        staged = _outcome(_read_back, path)
        assert staged == strict, f"staging reader differs:\n{staged}\n{strict}"
        _strictly(path)    # raises the refusal, if any, for _decode to check
    return _decode("fuzz.ckt", data, decode)


STAGED = TableCodec(TABLE)
STAGED.stage(copytext.renderers(TABLE.columns))


def _read_back(path: Path) -> list[tuple]:
    """What the staging reader yields, each staged body read back as PostgreSQL would
    (``read_copy_body``) and put in the strict decoder's form."""
    out = []
    for lineno, op, table, key, payload, body in read_changes(str(path), {STAGED.name: STAGED}):
        if body is not None:
            row = read_copy_body(TABLE, body)
            assert tuple(row[p] for p in TABLE.key_positions) == key, (body, key)
            set_ = set(TABLE.key_positions) | set(range(len(row)) if op == "I" else payload or ())
            assert all(row[p] is None for p in range(len(row)) if p not in set_), body
            payload = row if op == "I" else None if op == "D" else (payload, tuple(row[p] for p in payload))
        out.append((lineno, op, table, key, payload, None))
    return out


def _pg_text(b: bytes) -> str:
    return b.decode("utf-8")


def _pg_float(b: bytes) -> float:
    assert re.fullmatch(rb"NaN|-?Infinity|-?[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?", b), b
    return float(b)


def _pg_bytea(b: bytes) -> bytes:
    assert b.startswith(b"\\x"), b
    return bytes.fromhex(b[2:].decode("ascii"))


def _pg_checked(pattern: bytes, convert):
    def read(b: bytes):
        assert re.fullmatch(pattern, b), b
        return convert(b.decode("ascii"))
    return read


_TS = rb"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
#: how PostgreSQL reads a field of each kind's COPY text, modelled strictly enough to
#: catch a text it would read differently (or refuse)
_PG_READS = {
    Kind.BOOLEAN: {b"1": True, b"0": False}.__getitem__,
    Kind.DECIMAL: _pg_checked(rb"-?[0-9]+(\.[0-9]+)?", Decimal),
    Kind.FLOAT32: _pg_float, Kind.FLOAT64: _pg_float,
    Kind.DATE: _pg_checked(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}", dt.date.fromisoformat),
    Kind.TIME: _pg_checked(rb"[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?", dt.time.fromisoformat),
    Kind.TIMESTAMP: _pg_checked(_TS, dt.datetime.fromisoformat),
    Kind.TIMESTAMPTZ: _pg_checked(_TS + rb"\+00:00", dt.datetime.fromisoformat),
    Kind.UUID: _pg_checked(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", uuid.UUID),
    **{k: _pg_checked(rb"-?[0-9]+", int) for k in INTEGER_RANGES},
    **{k: _pg_text for k in STRING_KINDS}, **{k: _pg_bytea for k in BINARY_KINDS},
}


def read_copy_body(table: Table, body: str) -> tuple:
    """The values of one staged COPY text body (``ckt.StagingDecoder``), read the way
    PostgreSQL reads them."""
    assert body.endswith("\n") and "\n" not in body[:-1] and "\r" not in body, repr(body)
    fields = copy_fields(body[:-1].encode("utf-8"))
    assert len(fields) == len(table.columns), repr(body)
    return tuple(None if f is None else _PG_READS[c.kind](f) for c, f in zip(table.columns, fields))


def skt_file(data: bytes) -> bool:
    # a loader builds a codec from every table it accepted
    return _decode("fuzz.skt", data, lambda path: [TableCodec(t) for t in skt.read(path)])


def config(data: bytes) -> bool:
    path = _write("fuzz.cfg", data)
    try:
        items = C.read_file(str(path))
    except TargetSyncError as exc:
        return _refused(exc, path)
    accepted = False
    for command in sorted(C.ALL):
        try:
            C.build(command, items, {}, _DIR, _DIR)
            accepted = True
        except TargetSyncError as exc:
            _refused(exc, None)  # names the key or the file:line, checked by test_config
    return accepted


def tables(data: bytes) -> bool:
    return _decode("fuzz.tables", data, C.read_table_list)


TARGETS = {"ckt": ckt, "skt": skt_file, "config": config, "tables": tables}
