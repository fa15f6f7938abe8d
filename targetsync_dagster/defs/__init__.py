"""Component instances of this code location (``dg scaffold defs
targetsync_dagster.TargetSyncComponent <name>`` adds one, a folder with its defs.yaml)."""
