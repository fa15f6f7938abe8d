"""Cloud targets for the conformance suite (issue 24): one module a target.

Their raw clients (Snowflake's connector, BigQuery's client) load pyarrow, after which
MySQL Connector/Python's C extension cannot load in the same process; the adapters load
it first (``adapters.mysql.native.preload``), and so does this package, for the tests
that compare the two MySQL drivers later in the same test run."""
from targetsync_core.adapters.mysql import native

native.preload()
