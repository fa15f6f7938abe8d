"""Database type names → adapter classes, imported only when asked for."""
from __future__ import annotations

import importlib
import os

from targetsync_core.adapters.base import Database
from targetsync_core.dsn import Dsn
from targetsync_core.errors import ConfigError

#: type name → "module:Class". tigerdata is postgres; mariadb/singlestore use mysql.
ADAPTERS: dict[str, str] = {
    "sqlite": "targetsync_core.adapters.sqlite:SqliteDatabase",
    "postgres": "targetsync_core.adapters.postgres:PostgresDatabase",
    "tigerdata": "targetsync_core.adapters.postgres:PostgresDatabase",
    "mysql": "targetsync_core.adapters.mysql:MysqlDatabase",
    "singlestore": "targetsync_core.adapters.mysql:MysqlDatabase",
    "mariadb": "targetsync_core.adapters.mariadb:MariadbDatabase",
    "sqlserver": "targetsync_core.adapters.sqlserver:SqlServerDatabase",
    "oracle": "targetsync_core.adapters.oracle:OracleDatabase",
    "mongodb": "targetsync_core.adapters.mongodb:MongoDatabase",
    "cassandra": "targetsync_core.adapters.cassandra:CassandraDatabase",
    "databricks": "targetsync_core.adapters.databricks:DatabricksDatabase",
    "spanner": "targetsync_core.adapters.spanner:SpannerDatabase",
    "firebolt": "targetsync_core.adapters.firebolt:FireboltDatabase",
    "bigquery": "targetsync_core.adapters.bigquery:BigQueryDatabase",
    "snowflake": "targetsync_core.adapters.snowflake:SnowflakeDatabase",
}

#: Every type name SPEC 5 knows, by role, so a planned one gets a precise refusal.
SOURCES = {"postgres", "tigerdata", "mysql", "mariadb", "sqlserver", "oracle", "cassandra", "sqlite"}
TARGETS = {"postgres", "tigerdata", "mysql", "mariadb", "singlestore", "sqlserver", "oracle", "firebolt",
           "snowflake", "databricks", "bigquery", "spanner", "mongodb", "sqlite"}


def check_type(key: str, name: str, role: str) -> None:
    """Refuse a ``sourceType``/``targetType`` this build cannot serve, naming the key."""
    known = SOURCES if role == "source" else TARGETS
    if role == "target" and name in SOURCES - TARGETS:
        raise ConfigError(f"{key}={name}: {name} is a source only (targetsync reads it and cannot apply "
                          f"changes to it); choose a target of {', '.join(sorted(TARGETS))}")
    if name not in known:
        raise ConfigError(f"{key}={name} is not a {role} type; choose one of {', '.join(sorted(known))}")
    if name not in ADAPTERS:
        raise ConfigError(f"{key}={name}: this build has no {name} adapter yet "
                          f"(available: {', '.join(sorted(ADAPTERS))})")


def adapter_class(type_name: str, key: str, role: str) -> type[Database]:
    """The adapter class of ``type_name``; ``TARGETSYNC_ADAPTER_<TYPE>=module:Class`` in
    the environment serves the type with another class (one's own subclass, instrumented
    or patched; the tests serve SQL Server and Oracle with their translated twins so)."""
    check_type(key, type_name, role)
    module, _, cls = (os.environ.get(f"TARGETSYNC_ADAPTER_{type_name.upper()}") or ADAPTERS[type_name]).partition(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{key}={type_name}: adapter class {module}:{cls} cannot be loaded ({exc})") from None


def open_database(type_name: str, dsn: Dsn, key: str, role: str) -> Database:
    return adapter_class(type_name, key, role).from_dsn(type_name, dsn)
