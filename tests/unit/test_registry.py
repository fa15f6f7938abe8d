"""Which database types this build serves, by role (SPEC 5): SQL Server and Oracle both
ways; a planned type is refused in one line naming the key; a target-only type as a
source too."""
from __future__ import annotations

import pytest

from targetsync_core.adapters.registry import adapter_class
from targetsync_core.errors import ConfigError


@pytest.mark.parametrize("name", ["sqlserver", "oracle"])
@pytest.mark.parametrize("role,key", [("source", "sourceType"), ("target", "targetType")])
def test_sql_server_and_oracle_serve_both_roles(name, role, key):
    assert adapter_class(name, key, role).capabilities.name == name


def test_a_planned_type_is_refused_naming_the_key(monkeypatch):
    from targetsync_core.adapters import registry
    monkeypatch.delitem(registry.ADAPTERS, "spanner")   # a type SPEC 5 plans, as if not built yet
    with pytest.raises(ConfigError, match="targetType=spanner: this build has no spanner adapter yet"):
        adapter_class("spanner", "targetType", "target")


@pytest.mark.parametrize("name", ["snowflake", "mongodb"])
def test_a_target_only_type_is_no_source(name):
    with pytest.raises(ConfigError, match=f"sourceType={name} is not a source type"):
        adapter_class(name, "sourceType", "source")


def test_spanner_serves_targets_only_and_needs_no_driver_to_load():
    import subprocess
    import sys
    caps = adapter_class("spanner", "targetType", "target").capabilities
    assert caps.name == "spanner" and not caps.source and not caps.transactional_apply
    loaded = subprocess.run([sys.executable, "-c", "import sys, targetsync_core.adapters.spanner; "
                             "print(sorted(m for m in sys.modules if m.startswith('google')))"],
                            capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout
    with pytest.raises(ConfigError, match="sourceType=spanner is not a source type"):
        adapter_class("spanner", "sourceType", "source")


def test_mongodb_serves_targets():
    assert adapter_class("mongodb", "targetType", "target").capabilities.name == "mongodb"


def test_cassandra_is_a_source_and_as_a_target_is_refused_naming_the_rule():
    caps = adapter_class("cassandra", "sourceType", "source").capabilities
    assert caps.name == "cassandra" and not caps.target and not caps.ordered_reads
    with pytest.raises(ConfigError, match="targetType=cassandra: cassandra is a source only"):
        adapter_class("cassandra", "targetType", "target")
