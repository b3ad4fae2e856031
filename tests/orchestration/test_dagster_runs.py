"""The Dagster jobs run for real: the emulator over HTTP, DuckDB files, dbt, the BI copy."""

import json
import time
from dataclasses import replace

import dagster as dg
import duckdb

from orchestration.dagster import sensors
from tests.warehouse import scalar


def bi_scalar(settings, sql: str):
    with duckdb.connect(str(settings.bi_path), read_only=True) as con:
        return con.execute(sql).fetchall()[0][0]


def run(defs, instance, job: str, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance, run_config=run_config, raise_on_error=False
    )


def all_event_text(instance) -> str:
    """Everything the instance stores of its runs: events, messages, metadata."""
    return "\n".join(
        str(entry) for r in instance.get_runs() for entry in instance.all_logs(r.run_id)
    )


def test_the_minute_job_materializes_everything_then_runs_incrementally(defs, instance, settings,
                                                                         demo):
    first = run(defs, instance, "sync_minutely_job")
    assert first.success
    leads = len(demo.records("lead"))
    assert bi_scalar(settings, "select count(*) from marts.fct_leads") == leads
    demo.call("crm.lead.add", {"fields": {"TITLE": "from the second run", "SOURCE_ID": "WEB"}})

    second = run(defs, instance, "sync_minutely_job")
    assert second.success
    loaded = second.asset_materializations_for_node("bitrix24_raw")
    rows = {m.asset_key.path[-1]: m.metadata["rows_loaded"].value for m in loaded
            if m.asset_key.path[0] == "bitrix"}
    assert rows["leads"] == 1 and rows["deals"] == 0  # incremental: only the change
    assert bi_scalar(settings, "select count(*) from marts.fct_leads") == leads + 1
    assert bi_scalar(settings, "select sum(leads_received) from marts.mart_lead_sources_daily") \
        == leads + 1
    runs = scalar(settings, "select count(*) from ops.sync_runs where status = 'success'")
    assert runs == 2
    as_of = bi_scalar(settings, "select min(data_as_of) from marts.mart_pipeline_freshness")
    assert as_of is not None
    # every asset of the graph was materialized by the job (raw, run log, dbt, BI copy)
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert instance.get_latest_materialization_event(key) is not None, key
    assert demo.secret not in all_event_text(instance)


def test_backfill_restores_a_deal_whose_utm_was_repaired_in_the_portal(defs, instance, settings,
                                                                        demo):
    assert run(defs, instance, "sync_minutely_job").success
    # a deal without a lead: fct_deals takes the UTM of a deal's lead when it has one
    deal = next(d for d in demo.records("deal")
                if not d["LEAD_ID"] and d["UTM_SOURCE"] != "yandex")
    demo.control("POST", f"repair/deal/{deal['ID']}", {"fields": {"UTM_SOURCE": "yandex"}})
    assert run(defs, instance, "sync_minutely_job").success  # DATE_MODIFY did not move…
    fct = f"select utm_source from marts.fct_deals where deal_id = {deal['ID']}"
    assert bi_scalar(settings, fct) != "yandex"  # …so an incremental pass cannot see it

    created = deal["DATE_CREATE"][:10]
    config = {"ops": {"bitrix24_raw": {"config": {"mode": "backfill", "since": created,
                                                  "entities": ["deals"]}}}}
    assert run(defs, instance, "backfill_job", config).success
    assert bi_scalar(settings, fct) == "yandex"
    versions = scalar(settings, f"select count(*) from bitrix_raw.deal_versions "
                                f"where id = {deal['ID']}")
    assert versions == 2  # the old version is kept
    assert scalar(settings, "select count(*) from ops.sync_runs where kind = 'backfill'") == 1


def test_a_failing_run_posts_an_alert_without_the_secret(defs, instance, settings, demo,
                                                        alert_receiver, monkeypatch):
    monkeypatch.setenv("SOURCES__BITRIX24__WEBHOOK_URL", demo.webhook.replace(demo.secret,
                                                                             "wrong-secret-42"))
    failed = run(defs, instance, "sync_minutely_job")
    assert not failed.success
    sensor = next(s for s in defs.sensors if s.name == "run_failure_alert_sensor")
    dagster_run = instance.get_run_by_id(failed.run_id)
    failure = next(e for e in instance.all_logs(failed.run_id)
                   if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_FAILURE")
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_instance=instance, dagster_run=dagster_run,
        dagster_event=failure.dagster_event, resources={"settings": settings},
    ).for_run_failure()
    sensor(context)
    (alert,) = alert_receiver.received
    body = alert["json"]
    assert body["event"] == "run_failed" and body["subject"] == "sync_minutely_job"
    assert body["run_id"] == failed.run_id and body["since"]
    assert "INVALID_CREDENTIALS" in body["error"]
    assert "wrong-secret-42" not in alert["raw"] and demo.secret not in alert["raw"]
    # the run log records the failure too, for `status` and the freshness mart
    error = scalar(settings, "select error from ops.sync_runs where status = 'failed'")
    assert "INVALID_CREDENTIALS" in error and "wrong-secret-42" not in error


def test_a_stale_asset_is_reported_once_and_its_recovery_too(defs, instance, settings, demo,
                                                            alert_receiver):
    assert run(defs, instance, "sync_minutely_job").success
    impatient = {"settings": replace(settings, stale_after_minutes=1 / 60)}
    time.sleep(1.5)
    cursor = None
    for _ in range(2):  # the second evaluation does not repeat the alert
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=impatient)
        sensors.staleness_alert_sensor(context)
        cursor = context.cursor
    stale = [a["json"] for a in alert_receiver.received]
    assert {a["subject"] for a in stale} == {"bitrix/leads", "bi/bi_copy"}
    assert all(a["event"] == "stale" for a in stale) and len(stale) == 2
    assert set(json.loads(cursor)) == {"bitrix/leads", "bi/bi_copy"}

    assert run(defs, instance, "sync_minutely_job").success
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"settings": settings})
    sensors.staleness_alert_sensor(context)
    assert [a["json"]["event"] for a in alert_receiver.received[2:]] == ["fresh_again"] * 2
    assert json.loads(context.cursor) == {}
