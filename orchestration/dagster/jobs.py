"""Jobs and schedules. Every job runs in one process (a process per step costs seconds on two
cores) and writes through the `duckdb_writer` pool; the minute schedule skips a tick while any
writing run is still going, so runs never queue up without end, and while the event worker
(`orchestration.worker.worker`) is keeping the warehouse fresh."""

import time

import dagster as dg

from orchestration.dagster.assets import BI_KEY

WRITER_JOBS = ("sync_minutely_job", "reconcile_hourly_job", "backfill_job")
EVERYTHING = dg.AssetSelection.all()
ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def _ingest(mode: str, **options) -> dict:
    return {"ops": {"bitrix24_raw": {"config": {"mode": mode, **options}}}}


sync_minutely_job = dg.define_asset_job(
    "sync_minutely_job",
    selection=EVERYTHING,
    executor_def=dg.in_process_executor,
    description="Incremental sync → dbt build → BI copy.",
)
reconcile_hourly_job = dg.define_asset_job(
    "reconcile_hourly_job",
    selection=EVERYTHING,
    executor_def=dg.in_process_executor,
    config=_ingest("reconcile"),
    description="Find leads and deals deleted on the portal, mark them, rebuild, publish.",
)
backfill_job = dg.define_asset_job(
    "backfill_job",
    selection=EVERYTHING,
    executor_def=dg.in_process_executor,
    config=_ingest("backfill", since="YYYY-MM-DD", until=None, entities=["leads", "deals"]),
    description=(
        "Re-pull the leads/deals created in [since, until) whatever their DATE_MODIFY, keep "
        "history, rebuild, publish. Set `since` (and `until`) in the launchpad."
    ),
)


def writer_running(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE), limit=20)
    return next((r for r in runs if r.job_name in WRITER_JOBS), None)


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


def skip_while_writing(context: dg.ScheduleEvaluationContext):
    if worker_active(context.instance):  # it syncs and reconciles on its own
        return dg.SkipReason("the event worker keeps the warehouse fresh")
    running = writer_running(context.instance)
    if running is not None:
        return dg.SkipReason(f"{running.job_name} run {running.run_id[:8]} is still going")
    return dg.RunRequest()


def _schedule(name: str, cron: str, job) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=name,
        cron_schedule=cron,
        job=job,
        execution_fn=skip_while_writing,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )


sync_minutely_schedule = _schedule("sync_minutely_schedule", "* * * * *", sync_minutely_job)
reconcile_hourly_schedule = _schedule(
    "reconcile_hourly_schedule", "17 * * * *", reconcile_hourly_job
)
