"""The Dagster code location: `dagster dev -m orchestration.dagster.definitions` (or `make dev`).

The definitions are built when Dagster loads them, not at import, from the same settings the
CLI reads, so tests build them for a temporary warehouse with `build_definitions(settings)`. The
settings reach the assets and sensors as the `settings` resource.
"""

import dagster as dg

from orchestration.dagster import jobs
from orchestration.dagster.assets import (
    bi_copy_asset,
    dbt_project,
    freshness,
    marts_assets,
    raw_assets,
)
from orchestration.dagster.sensors import SENSORS
from orchestration.pipeline import ingest, settings


def build_definitions(config: settings.Settings) -> dg.Definitions:
    policy = freshness(config)
    project = dbt_project(config)
    marts = marts_assets(policy, project)
    return dg.Definitions(
        assets=[
            raw_assets(policy, ingest.make_pipeline(config)),
            marts,
            bi_copy_asset(policy, marts),
        ],
        jobs=jobs.JOBS,
        schedules=jobs.SCHEDULES,
        sensors=SENSORS,
        resources={
            "settings": dg.ResourceDefinition.hardcoded_resource(config),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(settings.load())
