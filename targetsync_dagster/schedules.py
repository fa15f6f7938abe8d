"""The nightly drift-repair schedule and the sensor that turns new tables into partitions."""

from dagster import (RunRequest, ScheduleEvaluationContext, SensorEvaluationContext, SensorResult, SkipReason,
                     define_asset_job, in_process_executor, schedule, sensor)

from targetsync_dagster.assets import source_schema, table_apply, table_emit, target_ddl, target_ddl_applied
from targetsync_dagster.partitions import TABLES
from targetsync_dagster.resources import RunDirectory

#: schema migration: extract the source schema, write the target DDL, create missing tables
schema_migration = define_asset_job("schema_migration", selection=[source_schema, target_ddl, target_ddl_applied],
                                    executor_def=in_process_executor)

#: per-table runs: emit then apply (and its check), in one process (start-up dominates
#: small partitions); a whole sync is a backfill of this job over every table partition
table_sync = define_asset_job("table_sync", selection=[table_emit, table_apply], executor_def=in_process_executor,
                              description="Emit and apply one table; backfill it over all tables for a full sync.")


@schedule(job=table_sync, cron_schedule="0 2 * * *", execution_timezone="UTC",
          description="Nightly drift repair: one run per table partition.")
def nightly_drift_repair(context: ScheduleEvaluationContext):
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    for key in context.instance.get_dynamic_partitions(TABLES.name):
        yield RunRequest(run_key=f"{key}@{day}", partition_key=key)


@sensor(minimum_interval_seconds=60, description="Adds the table list's new tables as partitions.")
def table_list_sensor(context: SensorEvaluationContext, run_dir: RunDirectory):
    known = set(context.instance.get_dynamic_partitions(TABLES.name))
    new = [n for n in run_dir.names() if n not in known]
    if not new:
        return SkipReason("no new tables in the table list")
    return SensorResult(dynamic_partitions_requests=[TABLES.build_add_request(new)])
