"""Scaling a sync pair out on Dagster's own engines (docs/DEPLOY.md).

``<pair>_distributed_sync`` is the full sync cut into steps: a planning step registers
the table partitions and splits the table list into *groups* (a table alone, or the tables
joined by foreign keys among them, which must be synced in one emit ordered over those
keys); then one ``sync_group`` step per group, mapped dynamically, each an emit applied as
it goes and a validation, recording each table's partition as the full sync does. The
steps run on the pair's executor: in this process one after the other (``in_process``, the
default), in subprocesses (``multiprocess``), or on a pool of Celery workers (``celery``,
dagster-celery; the broker and result backend come from the environment variables the
pair names), on other machines in a real deployment.

Every worker reads and writes the run directory: it must be one filesystem for all of
them (a shared mount). A step's emit and apply run in the same process, and a step that
dies (a worker killed, a machine lost) runs again from its folders: the emit resumes after
its last published file and the loader skips the files the target records as applied, so
nothing is applied twice. Steps applying to one target take turns under its apply lease
(each waits up to ``tables.LEASE_WAIT``); their diffs run at once. Every ``sync_group``
step takes a slot of the pool ``targetsync_<pair>_sync``.
"""
from __future__ import annotations

import hashlib
import re

from dagster import DynamicOut, DynamicOutput, in_process_executor, job, multiprocess_executor, op

EXECUTORS = ("in_process", "multiprocess", "celery")


def executor(kind: str, broker_env: str, backend_env: str):
    """The executor of the pair's distributed sync."""
    if kind == "in_process":
        return in_process_executor
    if kind == "multiprocess":
        return multiprocess_executor
    if kind != "celery":
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, not {kind!r}")
    try:
        from dagster_celery import celery_executor
    except ImportError as exc:
        raise ValueError(f"executor celery needs dagster-celery: pip install 'targetsync[scale]' ({exc})") from None
    return celery_executor.configured({
        "broker": {"env": broker_env}, "backend": {"env": backend_env},
        # a step is acknowledged when it ends: a worker lost mid-step gives it back to the queue
        "config_source": {"task_acks_late": True, "task_reject_on_worker_lost": True,
                          "worker_prefetch_multiplier": 1}})


def groups(names: list[str], tables: list) -> list[list[str]]:
    """``names`` split into the sets joined by foreign keys among them (in list order)."""
    parent = {n: n for n in names}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n
    for t in tables:
        for fk in t.foreign_keys if t.qualified in parent else ():
            ref = f"{fk.ref_schema}.{fk.ref_table}"
            if ref in parent:
                parent[root(t.qualified)] = root(ref)
    out: dict[str, list[str]] = {}
    for n in names:
        out.setdefault(root(n), []).append(n)
    return list(out.values())


def group_key(group: list[str]) -> str:
    """A step's mapping key (letters, digits and _): its first table, and a hash of all."""
    head = re.sub(r"[^A-Za-z0-9_]", "_", group[0])[:60]
    return f"{head}_{hashlib.sha1(','.join(group).encode()).hexdigest()[:8]}"


def distributed_sync_job(pair, partitions):
    """The pair's ``<pair>_distributed_sync`` job (see the module docstring)."""
    from targetsync_dagster import sync as S
    n = pair.name
    src_key, tgt_key, dir_key = pair.resource_keys
    queue = S.celery_queue(pair)

    @op(required_resource_keys={dir_key}, name=f"{n}_plan_groups", out=DynamicOut(list), tags=queue)
    def plan_groups(context):
        """Register the listed tables as partitions and yield each group of tables one
        step will sync."""
        run_dir = getattr(context.resources, dir_key)
        names = run_dir.names()
        S._register(context.instance, partitions.name, names)
        tables, _ = S._skt(run_dir, names)
        found = groups(names, tables)
        context.log.info(f"{len(names)} table(s) in {len(found)} step(s)")
        for group in found:
            yield DynamicOutput(group, mapping_key=group_key(group))

    @op(required_resource_keys={src_key, tgt_key, dir_key}, name=f"{n}_sync_group", out={},
        pool=f"targetsync_{n}_sync", tags=queue)
    def sync_group(context, group: list):
        """One group's tables synced in one emit applied as it goes, then validated."""
        run_dir = getattr(context.resources, dir_key)
        yield from S.sync_tables(context, pair, list(group), run_dir.group_dir(group_key(group)))

    @job(name=f"{n}_distributed_sync",
         executor_def=executor(pair.executor, pair.celery_broker_env, pair.celery_backend_env),
         description="The full sync as one step per table (or per set of tables joined by foreign keys), "
                     f"run on the {pair.executor} executor.")
    def distributed_sync():
        plan_groups().map(sync_group)

    return distributed_sync
