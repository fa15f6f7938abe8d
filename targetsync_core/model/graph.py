"""The order of an emit run over tables with foreign keys (SPEC 6): pure functions.

A target may enforce foreign keys among the synced tables (those of ``f.sql``, or its
own). Each change file commits on its own, and a loader applies files in order, so the
emitter lays the tables out so that every commit leaves every foreign key satisfied:

* **pass 1**, parents before children (the dependency graph's topological order, the
  table list's order among equals): inserts and updates of every table, and the deletes
  of a table nothing references;
* **pass 2**, children before parents: the deletes of every referenced table.

So a child row is written after the parent row it points at, and a parent row is
deleted after every child row that pointed at it has been moved or deleted: an ``ON
DELETE CASCADE`` or ``SET NULL`` on the target then finds nothing the source still has.

Tables that reference themselves or each other in a cycle cannot be ordered: each such
group's records of one pass are kept in one change file (one transaction), inside which
the target defers or skips its checks (PostgreSQL ``SET CONSTRAINTS ALL DEFERRED`` on
deferrable constraints; MySQL's loader session ``foreign_key_checks=0`` and a check of the
group's keys before the commit). Without foreign keys the plan is the table list, one
pass.
"""
from __future__ import annotations

from dataclasses import dataclass

ALL, UPSERTS, DELETES = "IUD", "IU", "D"


@dataclass(frozen=True)
class Reference:
    """A foreign key between two tables, named as the target names them."""

    name: str
    table: str                    # schema.table of the referencing (child) table
    columns: tuple[str, ...]
    ref_table: str                # schema.table of the referenced (parent) table
    ref_columns: tuple[str, ...]
    deferrable: bool = False


@dataclass(frozen=True)
class Step:
    """One table's part of the run: which records (``ops``) it emits, and the group
    (a cycle or a self-reference) whose records of this pass share one file."""

    table: str
    ops: str = ALL
    group: int | None = None


def components(tables: list[str], edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components of the graph ``edges`` (child, parent) over
    ``tables``, each in the tables' order (Tarjan's algorithm, iteratively)."""
    out_edges: dict[str, list[str]] = {t: [] for t in tables}
    for child, parent in sorted(edges, key=lambda e: (tables.index(e[0]), tables.index(e[1]))):
        out_edges[child].append(parent)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in tables:
        if root in index:
            continue
        work = [(root, iter(out_edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(out_edges[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                found.append(sorted(comp, key=tables.index))
    return found


def plan(tables: list[str], references: list[Reference]) -> list[Step]:
    """The steps of an emit run over ``tables`` (in the table list's order) whose foreign
    keys among themselves are ``references`` (any others are ignored); see the module
    docstring."""
    listed = set(tables)
    edges = {(r.table, r.ref_table) for r in references if r.table in listed and r.ref_table in listed}
    if not edges:
        return [Step(t) for t in tables]
    comps = components(tables, edges)
    where = {t: i for i, comp in enumerate(comps) for t in comp}
    parents = {i: {where[p] for c, p in edges if where[c] == i and where[p] != i} for i in range(len(comps))}
    cyclic = {where[c] for c, p in edges if where[c] == where[p]}
    referenced = {p for _, p in edges}
    # topological order, parents first; among components ready at once, the one whose
    # first table comes first in the list
    order, done = [], set()
    while len(order) < len(comps):
        ready = [i for i in range(len(comps)) if i not in done and parents[i] <= done]
        first = min(ready, key=lambda i: tables.index(comps[i][0]))
        order.append(first)
        done.add(first)
    steps: list[Step] = []
    group = 0
    for i in order:
        for t in comps[i]:
            steps.append(Step(t, UPSERTS if t in referenced else ALL, group if i in cyclic else None))
        group += i in cyclic
    for i in reversed(order):
        for t in comps[i]:
            if t in referenced:
                steps.append(Step(t, DELETES, group if i in cyclic else None))
        group += i in cyclic
    return steps


def cycles(references: list[Reference]) -> set[str]:
    """The tables that take part in a cycle of ``references`` (a self-reference too)."""
    tables = sorted({r.table for r in references} | {r.ref_table for r in references})
    edges = {(r.table, r.ref_table) for r in references}
    out: set[str] = set()
    for comp in components(tables, edges):
        if len(comp) > 1 or (comp[0], comp[0]) in edges:
            out.update(comp)
    return out
