"""The Dagster code location: `dagster dev -m orchestration.definitions` (or `make dev`).

The definitions are built when Dagster loads them, not at import, from the same settings the
CLI reads, so tests build them for a temporary warehouse with `build_definitions(settings)`.
"""

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration import jobs, settings, transform
from orchestration.assets import bi_copy_asset, dbt_project, marts_assets, raw_assets
from orchestration.sensors import build_sensors


def build_definitions(config: settings.Settings) -> dg.Definitions:
    settings.share_with_dbt(config)
    project = dbt_project(config)
    marts = marts_assets(config, project)
    return dg.Definitions(
        assets=[raw_assets(config), marts, bi_copy_asset(config, marts)],
        jobs=[jobs.sync_minutely_job, jobs.reconcile_hourly_job, jobs.backfill_job],
        schedules=[jobs.sync_minutely_schedule, jobs.reconcile_hourly_schedule],
        sensors=build_sensors(config),
        resources={"dbt": DbtCliResource(project_dir=project, dbt_executable=transform.DBT)},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(settings.load())
