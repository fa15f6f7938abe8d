"""Snowflake, a target, through snowflake-connector-python (imported lazily)."""
from targetsync_core.adapters.snowflake.adapter import SnowflakeDatabase

__all__ = ["SnowflakeDatabase"]
