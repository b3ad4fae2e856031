"""Jobs and schedules: a run per portal for its load, one run for the marts after the loads.

- `sync_minutely_job`, `reconcile_hourly_job`, `backfill_job` load one portal (a partition of
  `PORTALS`): its incremental pass, its deletion check, or a window of its history. The
  launchpad asks for the portal (`bitrix-warehouse sync|reconcile|backfill --portal` does the same
  outside Dagster).
- `marts_job` builds every dbt model and publishes the BI copy, for all portals at once; the
  sensor `marts_after_loads` (`orchestration.dagster.sensors`) starts it when a load succeeds,
  so fifty portals cost fifty small loads and a few builds, not fifty builds.

Every job runs in one process (a process per step costs seconds on two cores). Loads of different
portals run side by side and take the writer lock only to commit; the marts run is in the
`duckdb_writer` pool. The schedules keep the partitions equal to the portal registry, request
one run per portal, and skip a portal whose run is still going (so runs never queue up without
end) and every portal while the event worker (`orchestration.worker.worker`) keeps the
warehouse fresh. `dagster.yaml` bounds the runs at once and allows one run per portal.
"""

import time

import dagster as dg

from orchestration.dagster.assets import BI_KEY, PORTALS, RAW_GROUP
from orchestration.pipeline.settings import Settings

MARTS_JOB = "marts_job"
RAW = dg.AssetSelection.groups(RAW_GROUP)
ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
PARTITION_TAG = "dagster/partition"


def _ingest(mode: str, **options) -> dict:
    return {"ops": {"bitrix24_raw": {"config": {"mode": mode, **options}}}}


def _load_job(name: str, description: str, config: dict | None = None):
    return dg.define_asset_job(
        name,
        selection=RAW,  # partitioned by portal, as its assets are
        executor_def=dg.in_process_executor,
        config=config,
        description=description,
    )


sync_minutely_job = _load_job("sync_minutely_job", "A portal's incremental sync.")
reconcile_hourly_job = _load_job(
    "reconcile_hourly_job",
    "Find the portal's leads and deals deleted on the portal and mark them.",
    _ingest("reconcile"),
)
backfill_job = _load_job(
    "backfill_job",
    "Re-pull the portal's leads/deals created in [since, until) whatever their DATE_MODIFY, "
    "keeping history. Choose the portal and set `since` (and `until`) in the launchpad.",
    _ingest("backfill", since="YYYY-MM-DD", until=None, entities=["leads", "deals"]),
)
marts_job = dg.define_asset_job(
    MARTS_JOB,
    selection=dg.AssetSelection.all() - RAW,
    executor_def=dg.in_process_executor,
    description="dbt build of every portal's marts → BI copy; started after the loads.",
)
LOADS = [sync_minutely_job, reconcile_hourly_job, backfill_job]  # one portal each
LOAD_JOBS = tuple(job.name for job in LOADS)
JOBS = [*LOADS, marts_job]
WRITER_JOBS = tuple(job.name for job in JOBS)


def active_loads(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """The load runs queued or going, whatever their portal."""
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE), limit=500)
    return [r for r in runs if r.job_name in LOAD_JOBS]


def portal_partitions(instance: dg.DagsterInstance, settings: Settings) -> list[str]:
    """The registered portals' names, the dynamic partitions made equal to them first (a portal
    added while others run gets its partition at the next tick; a removed one loses it, and its
    history stays in the instance)."""
    wanted = [portal.name for portal in settings.registry.portals()]
    have = set(instance.get_dynamic_partitions(PORTALS.name))
    new = [name for name in wanted if name not in have]
    if new:
        instance.add_dynamic_partitions(PORTALS.name, new)
    for gone in have - set(wanted):
        instance.delete_dynamic_partition(PORTALS.name, gone)
    return wanted


WORKER_ALIVE_SECONDS = 150  # the worker refreshes the copy at least every minute


def worker_active(instance: dg.DagsterInstance) -> bool:
    """The event worker published the BI copy lately: it keeps the warehouse fresher than the
    minute job would, which would only queue behind it for the writer lock."""
    event = instance.get_latest_materialization_event(BI_KEY)
    if event is None or time.time() - event.timestamp > WORKER_ALIVE_SECONDS:
        return False
    materialization = event.asset_materialization
    reported = materialization.metadata.get("reported_by") if materialization else None
    return reported is not None and reported.value == "worker"


def each_portal(context: dg.ScheduleEvaluationContext, settings: Settings):
    """A run per registered portal, except those whose load is still going."""
    if worker_active(context.instance):  # it syncs and reconciles on its own
        return dg.SkipReason("the event worker keeps the warehouse fresh")
    busy = {r.tags.get(PARTITION_TAG) for r in active_loads(context.instance)}
    portals = portal_partitions(context.instance, settings)
    # the run key tells a tick's runs apart (a schedule's keys are its tick's own)
    requests = [dg.RunRequest(run_key=name, partition_key=name)
                for name in portals if name not in busy]
    if not requests:
        return dg.SkipReason(f"every portal's load is still going ({', '.join(portals)})")
    return requests


def _each_portal_schedule(name: str, cron: str, job) -> dg.ScheduleDefinition:
    @dg.schedule(name=name, cron_schedule=cron, job=job,
                 default_status=dg.DefaultScheduleStatus.RUNNING)
    def schedule(context: dg.ScheduleEvaluationContext, settings: dg.ResourceParam[Settings]):
        return each_portal(context, settings)

    return schedule


sync_minutely_schedule = _each_portal_schedule(
    "sync_minutely_schedule", "* * * * *", sync_minutely_job
)
reconcile_hourly_schedule = _each_portal_schedule(
    "reconcile_hourly_schedule", "17 * * * *", reconcile_hourly_job
)
SCHEDULES = [sync_minutely_schedule, reconcile_hourly_schedule]
