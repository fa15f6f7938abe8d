from targetsync_core.adapters.sqlite.adapter import SqliteDatabase, generate_ddl

__all__ = ["SqliteDatabase", "generate_ddl"]
