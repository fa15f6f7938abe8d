from targetsync_core.adapters.databricks.adapter import DatabricksDatabase

__all__ = ["DatabricksDatabase"]
