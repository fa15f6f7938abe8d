"""The Dagster layer of targetsync: a sync pair as Dagster definitions.

* ``TargetSyncComponent``: a pair from YAML (``dg scaffold defs targetsync_dagster.TargetSyncComponent``);
* ``SyncPair`` and ``build_sync_defs``: the same from Python;
* ``targetsync_dagster.definitions``: this repository's code location (the demo pair,
  configured from the environment, and any component instances under ``defs/``).
"""
from targetsync_dagster.component import TargetSyncComponent
from targetsync_dagster.sync import SyncPair, build_sync_defs

__all__ = ["TargetSyncComponent", "SyncPair", "build_sync_defs"]
