from targetsync_core.adapters.mysql.adapter import MysqlDatabase

__all__ = ["MysqlDatabase"]
