"""Test helpers: random schemas and rows covering every canonical type, drift, a canonical
comparison written independently of the code under test, and CLI runners."""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import sqlite3
import struct
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

from targetsync_core.adapters.sqlite import SqliteDatabase, generate_ddl
from targetsync_core.diff.windows import Window
from targetsync_core.model import skt
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

UTC = dt.timezone.utc
ROOT = Path(__file__).resolve().parents[1]
SQLITE_MAX_INT = 2**63 - 1

NASTY_STRINGS = ["", " ", "\t", "\n", "\\", "\\N", "a\tb\nc", "trailing ", "MiXeD", "-hyphen-",
                 "héllo", "日本語", "😀", "\r\n", "N", "null", "\\t"]
KEY_ALPHABET = ["a", "A", "b", "B", "z", "Z", "-", " ", "é", "É", "ß", "日", "😀", "\t", "\n", "\\", "0", "9"]

VALUE_COLUMNS = [
    Column("c_bool", Kind.BOOLEAN), Column("c_i16", Kind.INT16), Column("c_i32", Kind.INT32),
    Column("c_i64", Kind.INT64), Column("c_u16", Kind.UINT16), Column("c_u32", Kind.UINT32),
    Column("c_u64", Kind.UINT64), Column("c_dec", Kind.DECIMAL, precision=38, scale=10),
    Column("c_dec0", Kind.DECIMAL, precision=38, scale=0), Column("c_f32", Kind.FLOAT32),
    Column("c_f64", Kind.FLOAT64), Column("c_char", Kind.CHAR, length=10), Column("c_vc", Kind.VARCHAR, length=60),
    Column("c_text", Kind.TEXT), Column("c_bin", Kind.BINARY, length=4), Column("c_vbin", Kind.VARBINARY, length=40),
    Column("c_blob", Kind.BLOB), Column("c_date", Kind.DATE), Column("c_time", Kind.TIME, precision=6),
    Column("c_ts", Kind.TIMESTAMP, precision=6), Column("c_tstz", Kind.TIMESTAMPTZ, precision=6),
    Column("c_uuid", Kind.UUID), Column("c_json", Kind.JSON),
]
KEY_KINDS = [Kind.INT64, Kind.INT32, Kind.INT16, Kind.VARCHAR, Kind.TEXT, Kind.DATE, Kind.TIMESTAMP,
             Kind.TIMESTAMPTZ, Kind.UUID, Kind.VARBINARY, Kind.DECIMAL]


def _f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def random_value(rng: random.Random, col: Column, max_int: int = SQLITE_MAX_INT):
    k = col.kind
    edge = rng.random() < 0.3
    if k is Kind.BOOLEAN:
        return rng.random() < 0.5
    if k in (Kind.INT16, Kind.INT32, Kind.INT64, Kind.UINT16, Kind.UINT32, Kind.UINT64):
        bits = {"int16": 15, "int32": 31, "int64": 63, "uint16": 16, "uint32": 32, "uint64": 64}[k.value]
        lo = 0 if k.value.startswith("u") else -(2**bits)
        hi = min(2**bits - 1, max_int)
        return rng.choice([lo, hi, 0, -1 if lo else 1]) if edge else rng.randint(lo, hi)
    if k is Kind.DECIMAL:
        digits = col.precision - col.scale
        if edge:
            nines = "9" * digits + ("." + "9" * col.scale if col.scale else "")
            return rng.choice([Decimal(0), Decimal(nines), Decimal("-" + nines)])  # no arithmetic: it rounds
        unscaled = rng.randint(-(10**col.precision) + 1, 10**col.precision - 1)
        return Decimal(f"{unscaled}E-{col.scale}")  # exact: scaleb() would round to 28 digits
    if k in (Kind.FLOAT32, Kind.FLOAT64):
        if edge:
            return rng.choice([math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324 if k is Kind.FLOAT64 else 1e-45,
                               1.7976931348623157e308 if k is Kind.FLOAT64 else 3.4028234663852886e38])
        x = rng.uniform(-1e6, 1e6)
        return _f32(x) if k is Kind.FLOAT32 else x
    if k in (Kind.CHAR, Kind.VARCHAR, Kind.TEXT):
        s = rng.choice(NASTY_STRINGS) if edge else "".join(rng.choice(KEY_ALPHABET) for _ in range(rng.randint(0, 12)))
        return s[: col.length] if col.length else s
    if k is Kind.JSON:
        return rng.choice(['{"a": 1, "b": [1, 2]}', "[]", '"x\\ty"', "{}", '{"k": "日本"}', "12.5"])
    if k in (Kind.BINARY, Kind.VARBINARY, Kind.BLOB):
        if k is Kind.BINARY:
            return bytes(rng.choice([0, 1, 255, 9, 10]) for _ in range(col.length))
        v = rng.choice([b"", b"\x00", b"\x00\x00\t\n\\", bytes(range(256))[:40]]) if edge else rng.randbytes(rng.randint(0, 20))
        return v[: col.length] if col.length else v
    if k is Kind.DATE:
        return rng.choice([dt.date(1, 1, 1), dt.date(9999, 12, 31)]) if edge else dt.date(1, 1, 1) + dt.timedelta(days=rng.randint(0, 3652000))
    if k is Kind.TIME:
        return rng.choice([dt.time(0), dt.time(23, 59, 59, 999999)]) if edge else dt.time(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), rng.choice([0, rng.randint(0, 999999)]))
    if k in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        if edge:
            ts = rng.choice([dt.datetime(1, 1, 1, 0, 0, 0, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)])
        else:
            ts = dt.datetime(1, 1, 1) + dt.timedelta(seconds=rng.randint(0, 315_000_000_000), microseconds=rng.choice([0, rng.randint(0, 999999)]))
        return ts.replace(tzinfo=UTC) if k is Kind.TIMESTAMPTZ else ts
    if k is Kind.UUID:
        return uuid.UUID(int=0) if edge else uuid.UUID(int=rng.getrandbits(128))
    raise AssertionError(k)


def random_table(rng: random.Random, name: str) -> Table:
    nkeys = rng.randint(1, 3)
    keys = []
    for i in range(nkeys):
        kind = rng.choice([Kind.TEXT, Kind.VARCHAR]) if i == 0 and rng.random() < 0.4 else rng.choice(KEY_KINDS)
        extra = {"length": 30} if kind is Kind.VARCHAR else {}
        extra = {"length": 16} if kind is Kind.VARBINARY else extra
        extra = {"precision": 20, "scale": 4} if kind is Kind.DECIMAL else extra
        extra = {"precision": 6} if kind in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ) else extra
        keys.append(Column(f"k{i}", kind, False, **extra))
    values = [Column(c.name, c.kind, rng.random() < 0.8, c.length, c.precision, c.scale) for c in VALUE_COLUMNS]
    rng.shuffle(values)
    cols = keys + values
    # keys need not come first
    order = list(range(len(cols)))
    rng.shuffle(order)
    cols = [cols[i] for i in sorted(order)] if rng.random() < 0.5 else [cols[i] for i in order]
    return Table("main", name, tuple(cols), tuple(k.name for k in keys))


def random_row(rng, table: Table, key: tuple) -> tuple:
    keymap = dict(zip(table.primary_key, key))
    out = []
    for c in table.columns:
        if c.name in keymap:
            out.append(keymap[c.name])
        elif c.nullable and rng.random() < 0.1:
            out.append(None)
        else:
            out.append(random_value(rng, c))
    return tuple(out)


def random_keys(rng, table: Table, n: int) -> list[tuple]:
    keys = set()
    for _ in range(n * 20):
        if len(keys) >= n:
            break
        keys.add(tuple(random_value(rng, c) for c in table.key_columns))
    return sorted(keys)


def make_pair(rng, table: Table, n_source: int, drift: float = 0.3):
    """(source rows, target rows): the target has keys below and above the source range,
    misses some source rows and has others edited."""
    keys = random_keys(rng, table, n_source + 10)
    lo_extra, hi_extra = keys[:3], keys[-3:]
    middle = keys[3:-3] if len(keys) > 6 else []
    source_keys, stray = [], []
    for k in middle:
        (stray if rng.random() < drift / 3 else source_keys).append(k)
    source = {k: random_row(rng, table, k) for k in source_keys}
    target = {}
    for k, row in source.items():
        r = rng.random()
        if r < drift / 3:
            continue                                  # missing in target → insert
        if r < drift:
            row = list(row)
            for p in rng.sample(range(len(row)), rng.randint(1, 3)):
                if table.columns[p].name not in table.primary_key:
                    row[p] = random_row(rng, table, k)[p]
            row = tuple(row)
        target[k] = row
    for k in lo_extra + hi_extra + stray:
        target[k] = random_row(rng, table, k)           # only in target → delete
    return [source[k] for k in sorted(source)], [target[k] for k in sorted(target)]


# ---- an independent notion of "equal" --------------------------------------------------

def canon(col: Column, v):
    if v is None:
        return None
    if col.kind in (Kind.FLOAT32, Kind.FLOAT64):
        return "nan" if math.isnan(v) else (v + 0.0)
    if col.kind is Kind.CHAR:
        return v.rstrip(" ")
    if col.kind is Kind.JSON:
        return json.dumps(json.loads(v), sort_keys=True)
    if col.kind is Kind.DECIMAL:
        return Decimal(v).normalize() if v else Decimal(0)
    return v


def canon_row(table: Table, row: tuple) -> tuple:
    return tuple(canon(c, v) for c, v in zip(table.columns, row))


def expected_changes(table: Table, source: list[tuple], target: list[tuple]) -> dict[tuple, str]:
    kp = table.key_positions
    s = {tuple(r[p] for p in kp): r for r in source}
    t = {tuple(r[p] for p in kp): r for r in target}
    out = {}
    for k in s.keys() | t.keys():
        if k not in t:
            out[k] = "I"
        elif k not in s:
            out[k] = "D"
        elif canon_row(table, s[k]) != canon_row(table, t[k]):
            out[k] = "U"
    return out


# ---- SQLite fixtures -------------------------------------------------------------------

def create_db(path: Path, tables: list[Table], rows: dict[str, list[tuple]] | None = None) -> SqliteDatabase:
    sqlite3.connect(path).close()
    db = SqliteDatabase(str(path))
    db.execute_script(generate_ddl(tables)["c.sql"])
    for t in tables:
        if rows and rows.get(t.name):
            db.insert_rows(t, rows[t.name])
    return db


def read_all(db: SqliteDatabase, table: Table) -> list[tuple]:
    return list(db.read_window(table, Window(0, 0, None, None)))


def write_run(d: Path, tables: list[Table], **extra) -> None:
    """DSN files, table list, .skt and emit/apply/sync configs in ``d``."""
    (d / "source.dsn").write_text("sqlite:///source.db\n")
    (d / "target.dsn").write_text("sqlite:///target.db\n")
    (d / "tables.txt").write_text("".join(f"{t.qualified}\n" for t in tables))
    skt.write(d / "schema.skt", tables)
    common = {"sourceType": "sqlite", "sourceDsnFile": "source.dsn", "targetType": "sqlite",
              "targetDsnFile": "target.dsn", "tableFile": "tables.txt", "schemaFile": "schema.skt"}
    emit = {"emitOutputDirectory": "emit", "windowSize": 10, "maxThreads": 2, "emitFileTargetMB": 0.001,
            "checkpointDir": "checkpoint"}
    emit.update({k: v for k, v in extra.items() if k in ("windowSize", "maxThreads", "emitFileTargetMB", "resume")})
    apply = {"targetType": "sqlite", "targetDsnFile": "target.dsn", "schemaFile": "schema.skt",
             "inputDirectory": "emit", "doneDirectory": "done"}
    _cfg(d / "emit.cfg", {**common, "targetSyncEmit": "true", **emit})
    _cfg(d / "apply.cfg", apply)
    _cfg(d / "sync.cfg", {**common, **emit, "doneDirectory": "done"})


def _cfg(path: Path, items: dict) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in items.items()))


def cli(*args, cwd=None, env=None, timeout=120) -> subprocess.CompletedProcess:
    """Run the real command line in a subprocess (so tracebacks and exit codes are real)."""
    e = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "targetsync_core.cli", *args], cwd=cwd, env=e,
                          capture_output=True, text=True, timeout=timeout)


def ckt_records(directory: Path) -> list[tuple[int, str]]:
    """(file number, line) of every record in the N.ckt files of ``directory``, in order."""
    out = []
    nums = sorted(int(p.name.split(".")[0]) for p in directory.glob("*.ckt"))
    for n in nums:
        with open(directory / f"{n}.ckt", encoding="utf-8", newline="") as fh:
            out += [(n, line) for line in fh]
    return out
