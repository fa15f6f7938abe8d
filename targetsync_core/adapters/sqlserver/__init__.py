from targetsync_core.adapters.sqlserver.adapter import SqlServerDatabase

__all__ = ["SqlServerDatabase"]
