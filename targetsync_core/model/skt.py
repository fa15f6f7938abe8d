"""The ``.skt`` schema file (SPEC 3.1): UTF-8 JSON with a format name and version."""
from __future__ import annotations

import json
import os
from pathlib import Path

from targetsync_core.errors import ConfigError
from targetsync_core.model.schema import Column, ForeignKey, Table
from targetsync_core.model.types import Kind

FORMAT = "targetsync-schema"
VERSION = 1


def table_to_dict(t: Table) -> dict:
    return {
        "schema": t.schema,
        "name": t.name,
        "columns": [_column_to_dict(c) for c in t.columns],
        "primaryKey": list(t.primary_key),
        "unique": [list(u) for u in t.unique],
        "foreignKeys": [
            {"name": fk.name, "columns": list(fk.columns), "refSchema": fk.ref_schema,
             "refTable": fk.ref_table, "refColumns": list(fk.ref_columns)}
            for fk in t.foreign_keys
        ],
    }


def _column_to_dict(c: Column) -> dict:
    d = {"name": c.name, "type": c.kind.value, "nullable": c.nullable}
    for key in ("length", "precision", "scale"):
        if getattr(c, key) is not None:
            d[key] = getattr(c, key)
    d["native"] = c.native
    return d


def dumps(tables: list[Table]) -> str:
    return json.dumps({"format": FORMAT, "version": VERSION,
                       "tables": [table_to_dict(t) for t in tables]}, indent=2, ensure_ascii=False) + "\n"


def write(path: str | os.PathLike, tables: list[Table]) -> None:
    """Write atomically: a reader never sees half a schema file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(tables), encoding="utf-8")
    os.replace(tmp, path)


def read(path: str | os.PathLike) -> list[Table]:
    """Read and check a ``.skt``; any defect is a ConfigError naming the file and the place."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"schema file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"schema file {path} is not readable JSON: {exc}") from None
    except RecursionError:
        raise ConfigError(f"schema file {path} is not a schema file: its JSON is nested too deeply") from None
    return loads(doc, str(path))


def loads(doc, where: str) -> list[Table]:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(f"schema file {where} is not a {FORMAT} document")
    if doc.get("version") != VERSION:
        raise ConfigError(f"schema file {where} has version {doc.get('version')!r}; this build reads {VERSION}")
    tables = doc.get("tables")
    if not isinstance(tables, list):
        raise ConfigError(f"schema file {where}: 'tables' must be a list")
    out = [_table(t, f"{where} table {i}") for i, t in enumerate(tables)]
    seen: dict[str, int] = {}
    for i, t in enumerate(out):
        if t.qualified in seen:
            raise ConfigError(f"schema file {where} lists table {t.qualified} twice (tables {seen[t.qualified]} "
                              f"and {i}); keep one")
        seen[t.qualified] = i
    return out


def _table(d, where: str) -> Table:
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: a table must be an object with schema, name and columns, not {_what(d)}")
    try:
        cols = tuple(_column(c, f"{where} column {i}") for i, c in enumerate(d["columns"]))
        names = {c.name for c in cols}
        pk = tuple(_strs(d.get("primaryKey", []), where))
        unique = tuple(tuple(_strs(u, where)) for u in d.get("unique", []))
        fks = tuple(ForeignKey(tuple(_strs(f["columns"], where)), str(f["refSchema"]), str(f["refTable"]),
                               tuple(_strs(f["refColumns"], where)), str(f.get("name", "")))
                    for f in d.get("foreignKeys", []))
        table = Table(str(d["schema"]), str(d["name"]), cols, pk, unique, fks)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{where}: missing or malformed entry {exc}") from None
    for col in pk + tuple(c for u in unique for c in u):
        if col not in names:
            raise ConfigError(f"{where} ({table.qualified}): key column {col} is not a column")
    if len(names) != len(cols):
        raise ConfigError(f"{where} ({table.qualified}): duplicate column names")
    return table


def _what(v) -> str:
    return "null" if v is None else type(v).__name__


def _column(d, where: str) -> Column:
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: a column must be an object with name and type, not {_what(d)}")
    try:
        kind = Kind(d["type"])
    except ValueError:
        raise ConfigError(f"{where}: unknown type {d['type']!r}") from None
    ints = {}
    for key in ("length", "precision", "scale"):
        v = d.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise ConfigError(f"{where}: {key} must be a non-negative integer")
        ints[key] = v
    if not isinstance(d["name"], str) or not d["name"]:
        raise ConfigError(f"{where}: column name must be a non-empty string")
    return Column(d["name"], kind, bool(d.get("nullable", True)), native=str(d.get("native", "")), **ints)


def _strs(items, where: str) -> list[str]:
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise ConfigError(f"{where}: expected a list of column names")
    return items
