"""Foreign keys as a database holds them, and the one query that finds a row breaking one.

Adapters read their catalog into :class:`~targetsync_core.model.graph.Reference`
values (``Database.foreign_keys``): the emitter orders a run by them and checks that the
source's rows satisfy them; the MySQL-family applier checks them before committing a file
it applied with its own session's checks off.
"""
from __future__ import annotations

from typing import Callable, Iterable

from targetsync_core.model.schema import Table

from targetsync_core.model.graph import Reference


def grouped(rows: Iterable[tuple]) -> list[Reference]:
    """References from catalog rows ``(name, table, column, ref_table, ref_column,
    deferrable)``, one row per column in key order, a constraint's rows together."""
    found: dict[tuple[str, str], list] = {}
    for name, table, column, ref_table, ref_column, deferrable in rows:
        entry = found.setdefault((table, name), [ref_table, [], [], bool(deferrable)])
        entry[1].append(column)
        entry[2].append(ref_column)
    return [Reference(name, table, tuple(cols), ref, tuple(refs), deferrable)
            for (table, name), (ref, cols, refs, deferrable) in found.items()]


def orphan_sql(child: str, parent: str, key: list[str], columns: Iterable[str], ref_columns: Iterable[str],
               quote: Callable[[str], str]) -> str:
    """A query for the key of one row of ``child`` whose ``columns`` are all set and match
    no row of ``parent`` (MATCH SIMPLE, as the servers check): both tables aliased, so no
    table name can clash with an alias."""
    columns, ref_columns = list(columns), list(ref_columns)
    set_ = " AND ".join(f"ts_c.{quote(c)} IS NOT NULL" for c in columns)
    match = " AND ".join(f"ts_p.{quote(r)} = ts_c.{quote(c)}" for c, r in zip(columns, ref_columns))
    return (f"SELECT {', '.join('ts_c.' + quote(k) for k in key)} FROM {child} AS ts_c WHERE {set_} "
            f"AND NOT EXISTS (SELECT 1 FROM {parent} AS ts_p WHERE {match}) LIMIT 1")


def first_orphan(child: Table, columns: Iterable[str], parent: Table, ref_columns: Iterable[str],
                 quote: Callable[[str], str], qualified: Callable[[Table], str],
                 read: Callable[[Table, list, str], Iterable[tuple]]) -> tuple | None:
    """``Database.find_orphan`` for a SQL database: ``read(table, columns, sql)`` runs the
    query and gives its rows as canonical values of ``columns``."""
    keys = list(child.key_columns)
    sql = orphan_sql(qualified(child), qualified(parent), [c.name for c in keys], columns, ref_columns, quote)
    found = list(read(child, keys, sql))   # LIMIT 1
    return found[0] if found else None
