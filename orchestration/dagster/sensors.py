"""The marts after the loads, and alerts: a run-failure sensor, and a staleness sensor that
watches each portal's raw tables and the BI copy. The alerts POST through
`orchestration.pipeline.alerts` and log."""

import json
import time
from datetime import UTC, datetime

import dagster as dg

from orchestration.dagster import jobs
from orchestration.dagster.assets import BI_KEY, PORTALS
from orchestration.pipeline import alerts
from orchestration.pipeline.settings import Settings

RAW_WATCHED = dg.AssetKey(["bitrix", "leads"])  # every load writes it, changes or none
WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
           dg.DagsterRunStatus.STARTING]


@dg.run_status_sensor(
    name="marts_after_loads",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=jobs.LOADS,
    request_job=jobs.marts_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
)
def marts_after_loads(context: dg.RunStatusSensorContext):
    """A load succeeded: build and publish the marts, unless a build is still waiting to start
    (it will read this load too). Loads finishing together share one build."""
    waiting = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=jobs.MARTS_JOB, statuses=WAITING), limit=1
    )
    if waiting:
        return dg.SkipReason(f"marts run {waiting[0].run_id[:8]} is waiting to start")
    return dg.RunRequest()


def _failed_before(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """The portal's previous run of this job failed too: the outage was alerted already."""
    portal = run.tags.get(jobs.PARTITION_TAG)
    if portal is None:
        return False
    done = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]
    runs = instance.get_run_records(
        filters=dg.RunsFilter(job_name=run.job_name, tags={jobs.PARTITION_TAG: portal},
                              statuses=done),
        limit=10,
    )
    this = next((r for r in runs if r.dagster_run.run_id == run.run_id), None)
    earlier = [r for r in runs if this is not None and r.create_timestamp < this.create_timestamp]
    return bool(earlier) and earlier[0].dagster_run.status == dg.DagsterRunStatus.FAILURE


def _failure_error(context: dg.RunFailureSensorContext) -> str | None:
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        if data and data.error:
            error = data.error
            while error.cause is not None:  # Dagster and dlt wrap the error that says what broke
                error = error.cause
            return alerts.first_line(error.message)
    return alerts.first_line(context.failure_event.message)


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
)
def run_failure_alert_sensor(
    context: dg.RunFailureSensorContext, settings: dg.ResourceParam[Settings]
):
    run = context.dagster_run
    if _failed_before(context.instance, run):
        context.log.info(f"{run.job_name} failed again for {run.tags[jobs.PARTITION_TAG]}")
        return  # one alert per outage: the first failure said it
    stats = context.instance.get_run_stats(run.run_id)
    started = stats.start_time or stats.enqueued_time or time.time()
    alert = alerts.Alert(
        event="run_failed",
        subject=run.job_name,
        since=datetime.fromtimestamp(started, UTC),
        error=_failure_error(context),
        run_id=run.run_id,
        portal=run.tags.get(jobs.PARTITION_TAG),
    )
    context.log.warning(alert.payload()["text"])
    alerts.send(settings, alert)


@dg.sensor(
    name="staleness_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
)
def staleness_alert_sensor(
    context: dg.SensorEvaluationContext, settings: dg.ResourceParam[Settings]
):
    window = settings.stale_after_minutes * 60
    alerted = json.loads(context.cursor) if context.cursor else {}
    now = time.time()
    watched = list(_last_materializations(context.instance))
    names = {name for name, *_ in watched}  # a removed portal's alert is forgotten
    alerted = {name: last for name, last in alerted.items() if name in names}
    for name, key, portal, last in watched:
        stale = now - last > window
        if stale == (name in alerted):
            continue  # no change since the last evaluation
        alert = alerts.Alert(
            "stale" if stale else "fresh_again", key.to_user_string(),
            datetime.fromtimestamp(last, UTC), portal=portal,
        )
        context.log.warning(alert.payload()["text"])
        alerts.send(settings, alert)
        if stale:
            alerted[name] = last
        else:
            del alerted[name]
    context.update_cursor(json.dumps(alerted))
    return dg.SkipReason(f"stale: {', '.join(alerted) or 'nothing'}")


def _last_materializations(instance: dg.DagsterInstance):
    """(name, asset key, portal, timestamp) of each watched asset's last materialization: each
    portal's raw tables, and the BI copy; none for what was never built (the failure sensor
    speaks for a broken first run)."""
    watched = [(f"{RAW_WATCHED.to_user_string()}[{portal}]", RAW_WATCHED, portal)
               for portal in instance.get_dynamic_partitions(PORTALS.name)]
    watched.append((BI_KEY.to_user_string(), BI_KEY, None))
    for name, key, portal in watched:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[portal] if portal else None),
            limit=1,
        ).records
        if records:
            yield name, key, portal, records[0].timestamp


SENSORS = [marts_after_loads, run_failure_alert_sensor, staleness_alert_sensor]
