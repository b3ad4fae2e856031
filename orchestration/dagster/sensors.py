"""Alerts: a run-failure sensor, and a staleness sensor that watches the last materialization of
the raw tables and the BI copy. Both POST through `orchestration.pipeline.alerts` and log."""

import json
import time
from datetime import UTC, datetime

import dagster as dg

from orchestration.pipeline import alerts
from orchestration.pipeline.settings import Settings

WATCHED = (dg.AssetKey(["bitrix", "leads"]), dg.AssetKey(["bi", "bi_copy"]))


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
    stats = context.instance.get_run_stats(run.run_id)
    started = stats.start_time or stats.enqueued_time or time.time()
    alert = alerts.Alert(
        event="run_failed",
        subject=run.job_name,
        since=datetime.fromtimestamp(started, UTC),
        error=_failure_error(context),
        run_id=run.run_id,
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
    for key in WATCHED:
        event = context.instance.get_latest_materialization_event(key)
        if event is None:
            continue  # never built yet: the failure sensor speaks for a broken first run
        name, last = key.to_user_string(), event.timestamp
        stale = now - last > window
        if stale == (name in alerted):
            continue  # no change since the last evaluation
        alert = alerts.Alert(
            "stale" if stale else "fresh_again", name, datetime.fromtimestamp(last, UTC)
        )
        context.log.warning(alert.payload()["text"])
        alerts.send(settings, alert)
        if stale:
            alerted[name] = last
        else:
            del alerted[name]
    context.update_cursor(json.dumps(alerted))
    return dg.SkipReason(f"stale: {', '.join(alerted) or 'nothing'}")


SENSORS = [run_failure_alert_sensor, staleness_alert_sensor]
