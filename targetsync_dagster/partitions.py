"""Tables as partitions: one dynamic partition per ``schema.table`` of the table list."""
from dagster import DynamicPartitionsDefinition

TABLES = DynamicPartitionsDefinition(name="tables")


def register_tables(instance, names: list[str]) -> list[str]:
    """Add the partitions not yet known; returns those added."""
    known = set(instance.get_dynamic_partitions(TABLES.name))
    new = [n for n in names if n not in known]
    if new:
        instance.add_dynamic_partitions(TABLES.name, new)
    return new
