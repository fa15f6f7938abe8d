from targetsync_core.adapters.oracle.adapter import OracleDatabase

__all__ = ["OracleDatabase"]
