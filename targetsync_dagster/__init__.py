"""The Dagster layer (SPEC 7): a thin code location over ``targetsync_core``."""
from targetsync_dagster.definitions import defs

__all__ = ["defs"]
