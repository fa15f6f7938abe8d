"""BigQuery as a target (``adapter.py``: DSN, reading, DDL; ``applier.py``: apply)."""
from targetsync_core.adapters.bigquery.adapter import BigQueryDatabase

__all__ = ["BigQueryDatabase"]
