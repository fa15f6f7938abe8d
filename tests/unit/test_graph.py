"""The emit order over foreign keys (``model.graph``), proved by simulation: random tables
with random foreign keys (self-references and cycles included), a source and a target
that each satisfy them, every change of the plan applied one commit at a time (a group's
records in one commit), with ``ON DELETE CASCADE`` on every key. After every commit every
foreign key holds, and at the end the target equals the source."""
from __future__ import annotations

import random

from hypothesis import given, settings, strategies as st

from targetsync_core.model.graph import ALL, DELETES, UPSERTS, Reference, Step, components, cycles, plan


def ref(child: str, parent: str, n: int = 0) -> Reference:
    return Reference(f"{child}_fk{n}", child, (f"r{n}",), parent, ("id",))


def test_without_foreign_keys_the_plan_is_the_table_list():
    assert plan(["a", "b"], []) == [Step("a"), Step("b")]
    assert plan(["a", "b"], [ref("a", "outside")]) == [Step("a"), Step("b")]


def test_parents_first_then_deletes_children_first():
    steps = plan(["track", "album", "artist", "genre"], [ref("track", "album"), ref("album", "artist")])
    assert steps == [Step("artist", UPSERTS), Step("album", UPSERTS), Step("track", ALL), Step("genre", ALL),
                     Step("album", DELETES), Step("artist", DELETES)]


def test_self_references_and_cycles_are_groups():
    steps = plan(["emp", "a", "b"], [ref("emp", "emp"), ref("a", "b"), ref("b", "a")])
    groups = {(s.table, s.ops): s.group for s in steps}
    assert groups[("emp", UPSERTS)] is not None and groups[("a", UPSERTS)] == groups[("b", UPSERTS)] is not None
    assert groups[("a", DELETES)] == groups[("b", DELETES)] not in (None, groups[("a", UPSERTS)])
    assert cycles([ref("emp", "emp"), ref("a", "b"), ref("b", "a"), ref("c", "a")]) == {"emp", "a", "b"}
    assert components(["x", "y", "z"], {("x", "y"), ("y", "z"), ("z", "x")}) == [["x", "y", "z"]]


# ---- the simulation ---------------------------------------------------------------------

def dataset(rng: random.Random, tables: list[str], refs: list[Reference], present: float) -> dict:
    """Rows {table: {id: {fk name: parent id or None, "v": value}}} satisfying ``refs``."""
    ids = {t: [i for i in range(8) if rng.random() < present] for t in tables}
    data = {}
    for t in tables:
        rows = {}
        for i in ids[t]:
            row = {"v": rng.randint(0, 2)}
            for r in refs:
                if r.table == t:
                    choices = ids[r.ref_table]
                    row[r.name] = rng.choice(choices) if choices and rng.random() < 0.8 else None
            rows[i] = row
        data[t] = rows
    return data


def holds(target: dict, refs: list[Reference]) -> bool:
    return all(row[r.name] is None or row[r.name] in target[r.ref_table]
               for r in refs for row in target[r.table].values())


def delete(target: dict, refs: list[Reference], table: str, key: int) -> None:
    """Delete a row, cascading to every row that references it (ON DELETE CASCADE)."""
    if target[table].pop(key, None) is None:
        return
    for r in refs:
        if r.ref_table == table:
            for k in [k for k, row in target[r.table].items() if row[r.name] == key]:
                delete(target, refs, r.table, k)


def records(step: Step, source: dict, target: dict) -> list[tuple]:
    s, t = source[step.table], target[step.table]
    out = []
    if "I" in step.ops:
        out += [("I", step.table, k) for k in s if k not in t]
    if "U" in step.ops:
        out += [("U", step.table, k) for k in s if k in t and s[k] != t[k]]
    if "D" in step.ops:
        out += [("D", step.table, k) for k in t if k not in s]
    return out


def apply(target: dict, source: dict, refs: list[Reference], record: tuple) -> None:
    op, table, key = record
    if op == "D":
        delete(target, refs, table, key)
    elif op == "I" or key in target[table]:   # an update of a row a cascade took is lost
        target[table][key] = dict(source[table][key])


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 5), st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=7), st.randoms())
def test_every_commit_keeps_every_foreign_key_and_the_target_ends_equal(n, pairs, rng):
    tables = [f"t{i}" for i in range(n)]
    refs = [ref(tables[c % n], tables[p % n], k) for k, (c, p) in enumerate(pairs)]
    source, target = dataset(rng, tables, refs, 0.6), dataset(rng, tables, refs, 0.6)
    steps = plan(tables, refs)
    assert sorted({s.table for s in steps}) == tables
    i = 0
    while i < len(steps):
        group = [steps[i]]
        while steps[i].group is not None and i + len(group) < len(steps) and steps[i + len(group)].group == steps[i].group:
            group.append(steps[i + len(group)])
        i += len(group)
        if group[0].group is not None:   # one commit: records in any order inside it
            batch = [r for s in group for r in records(s, source, target)]
            rng.shuffle(batch)
            for r in batch:
                apply(target, source, refs, r)
            assert holds(target, refs), group
        else:
            batch = records(group[0], source, target)
            rng.shuffle(batch)
            for r in batch:            # every record its own commit: files may be cut anywhere
                apply(target, source, refs, r)
                assert holds(target, refs), (group[0], r)
    assert target == source
