"""Cassandra, a source only: see ``adapter.py``."""
from targetsync_core.adapters.cassandra.adapter import CassandraDatabase

__all__ = ["CassandraDatabase"]
