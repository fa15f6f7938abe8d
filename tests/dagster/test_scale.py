"""The distributed sync without Celery (``targetsync_dagster.scale``): tables joined by
foreign keys share a step, every other table has its own; the job, run in process,
converges every table with its partition's check and a second run finds nothing to do;
an unknown executor is refused by name. On Celery workers: ``test_celery.py``."""
from __future__ import annotations

import pytest
from dagster import instance_for_test

from targetsync_core.model.schema import Column, ForeignKey, Table
from targetsync_core.model.types import Kind
from targetsync_dagster.scale import executor, group_key, groups
from tests.dagster.support import failures, run
from tests.dagster.test_assets import converged, migrated


def table(name: str, *refs: str) -> Table:
    return Table("s", name, (Column("id", Kind.INT32, False), Column("r", Kind.INT32)), ("id",),
                 foreign_keys=tuple(ForeignKey(("r",), "s", ref, ("id",)) for ref in refs))


def test_tables_joined_by_foreign_keys_share_a_step_and_the_others_have_their_own():
    tables = [table("a"), table("b", "a"), table("c"), table("d", "e"), table("e", "d"), table("f", "outside"),
              table("g", "g")]
    names = [t.qualified for t in tables]
    assert groups(names, tables) == [["s.a", "s.b"], ["s.c"], ["s.d", "s.e"], ["s.f"], ["s.g"]]
    assert groups(["s.c", "s.b"], tables) == [["s.c"], ["s.b"]]   # a is not listed: b alone
    keys = [group_key(g) for g in groups(names, tables)]
    assert len(set(keys)) == len(keys) and all(k.replace("_", "").isalnum() for k in keys)
    assert group_key(["s.a-b c"]) != group_key(["s.a_b_c"])


def test_an_unknown_executor_is_refused_by_name(tmp_path):
    from tests.dagster.support import sqlite_pair
    with pytest.raises(ValueError, match="executor must be one of in_process, multiprocess, celery, not 'ray'"):
        sqlite_pair(tmp_path, executor="ray")
    assert executor("celery", "B", "R") is not executor("in_process", "B", "R")


def test_the_distributed_sync_converges_every_table_with_its_check(tmp_path):
    with instance_for_test() as instance:
        pair, defs, tables, _, _ = migrated(tmp_path, instance)
        r = run(defs, "t_distributed_sync", instance)
        converged(tmp_path, instance, pair, tables, r)
        steps = {e.step_key for e in r.all_events if e.event_type_value == "STEP_START"}
        assert len([s for s in steps if "sync_group" in s]) == len(tables)
        again = run(defs, "t_distributed_sync", instance)   # in sync: each step finds nothing to do
        assert again.success, failures(again)
        emitted = [m for m in again.asset_materializations_for_node("t_sync_group")
                   if m.asset_key == pair.key("table_emit")]
        assert len(emitted) == len(tables)
        assert all(m.metadata["inserts"].value == m.metadata["updates"].value == m.metadata["deletes"].value == 0
                   for m in emitted)
