from targetsync_core.adapters.postgres.adapter import PostgresDatabase

__all__ = ["PostgresDatabase"]
