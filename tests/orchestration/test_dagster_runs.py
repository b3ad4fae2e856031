"""The Dagster jobs run for real: the emulator over HTTP, DuckDB files, dbt, the BI copy. A run
loads one portal (a partition); the marts follow in a run of their own."""

import json
import time
from dataclasses import replace

import dagster as dg
import duckdb

from orchestration.dagster import jobs, sensors
from orchestration.dagster.definitions import build_definitions
from orchestration.pipeline.portals import Portal
from tests.warehouse import MARTS, scalar


def bi_scalar(settings, sql: str):
    with duckdb.connect(str(settings.bi_path), read_only=True) as con:
        return con.execute(sql).fetchall()[0][0]


def run(defs, instance, job: str, portal: str | None = None,
        run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    if portal is not None and not instance.has_dynamic_partition("portals", portal):
        instance.add_dynamic_partitions("portals", [portal])
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance, run_config=run_config, partition_key=portal, raise_on_error=False
    )


def cycle(defs, instance, *portals: str) -> list[dg.ExecuteInProcessResult]:
    """Each portal's minute load, then the marts run the sensor asks for after a good load."""
    loads = [run(defs, instance, "sync_minutely_job", portal) for portal in portals]
    good = next((load for load in loads if load.success), None)
    if good is not None:
        assert isinstance(_marts_request(defs, instance, good), dg.RunRequest)
        assert run(defs, instance, jobs.MARTS_JOB).success
    return loads


def _marts_request(defs, instance, load: dg.ExecuteInProcessResult):
    success = next(e for e in instance.all_logs(load.run_id)
                   if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_SUCCESS")
    context = dg.build_run_status_sensor_context(
        sensor_name="marts_after_loads", dagster_instance=instance,
        dagster_run=instance.get_run_by_id(load.run_id), dagster_event=success.dagster_event,
    )
    return sensors.marts_after_loads(context)


def all_event_text(instance) -> str:
    """Everything the instance stores of its runs: events, messages, metadata."""
    return "\n".join(
        str(entry) for r in instance.get_runs() for entry in instance.all_logs(r.run_id)
    )


def test_the_minute_job_loads_the_portal_then_the_marts_follow_incrementally(
        defs, instance, settings, demo):
    (first,) = cycle(defs, instance, "main")
    assert first.success
    leads = len(demo.records("lead"))
    assert bi_scalar(settings, "select count(*) from marts.fct_leads") == leads
    demo.call("crm.lead.add", {"fields": {"TITLE": "from the second run", "SOURCE_ID": "WEB"}})

    (second,) = cycle(defs, instance, "main")
    assert second.success
    loaded = second.asset_materializations_for_node("bitrix24_raw")
    rows = {m.asset_key.path[-1]: m.metadata["rows_loaded"].value for m in loaded
            if m.asset_key.path[0] == "bitrix"}
    assert rows["leads"] == 1 and rows["deals"] == 0  # incremental: only the change
    assert {m.partition for m in loaded} == {"main"}
    assert bi_scalar(settings, "select count(*) from marts.fct_leads") == leads + 1
    assert bi_scalar(settings, "select sum(leads_received) from marts.mart_lead_sources_daily") \
        == leads + 1
    runs = scalar(settings, "select count(*) from ops.sync_runs where status = 'success'")
    assert runs == 2
    as_of = bi_scalar(settings, "select min(data_as_of) from marts.mart_pipeline_freshness")
    assert as_of is not None
    # every asset of the graph was materialized (raw and run log for the portal, dbt, BI copy)
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert instance.get_latest_materialization_event(key) is not None, key
    assert demo.secret not in all_event_text(instance)
    # a quiet minute: the marts run builds only what reads the run log ("data as of" moves)
    # and reports every other mart unchanged, so no mart's freshness policy fails
    synced = bi_scalar(settings, "select max(last_synced_at) from marts.mart_pipeline_freshness")
    (third,) = cycle(defs, instance, "main")
    assert third.success
    marts = {key.path[-1]: instance.get_latest_materialization_event(key)
             .asset_materialization.metadata for key in graph.get_all_asset_keys()
             if key.path[0] == "marts"}
    assert set(marts) == MARTS
    assert {name for name, metadata in marts.items() if "unchanged" in metadata} \
        == MARTS - {"mart_pipeline_freshness"}
    assert bi_scalar(settings, "select max(last_synced_at) from marts.mart_pipeline_freshness") \
        > synced
    assert bi_scalar(settings, "select count(*) from marts.fct_leads") == leads + 1
    # a build waiting to start reads the next load too: a second success asks for none
    queued = instance.create_run_for_job(defs.resolve_job_def(jobs.MARTS_JOB),
                                         status=dg.DagsterRunStatus.NOT_STARTED)
    assert isinstance(_marts_request(defs, instance, second), dg.SkipReason), queued.run_id


def test_backfill_restores_a_deal_whose_utm_was_repaired_in_the_portal(defs, instance, settings,
                                                                        demo):
    assert all(load.success for load in cycle(defs, instance, "main"))
    # a deal without a lead: fct_deals takes the UTM of a deal's lead when it has one
    deal = next(d for d in demo.records("deal")
                if not d["LEAD_ID"] and d["UTM_SOURCE"] != "yandex")
    demo.control("POST", f"repair/deal/{deal['ID']}", {"fields": {"UTM_SOURCE": "yandex"}})
    assert all(load.success for load in cycle(defs, instance, "main"))  # DATE_MODIFY did not
    fct = f"select utm_source from marts.fct_deals where deal_id = {deal['ID']}"  # move…
    assert bi_scalar(settings, fct) != "yandex"  # …so an incremental pass cannot see it

    created = deal["DATE_CREATE"][:10]
    config = {"ops": {"bitrix24_raw": {"config": {"mode": "backfill", "since": created,
                                                  "entities": ["deals"]}}}}
    backfill = run(defs, instance, "backfill_job", "main", config)
    assert backfill.success
    assert isinstance(_marts_request(defs, instance, backfill), dg.RunRequest)
    assert run(defs, instance, jobs.MARTS_JOB).success
    assert bi_scalar(settings, fct) == "yandex"
    versions = scalar(settings, f"select count(*) from bitrix_raw.deal_versions "
                                f"where id = {deal['ID']}")
    assert versions == 2  # the old version is kept
    assert scalar(settings, "select count(*) from ops.sync_runs where kind = 'backfill'") == 1



def _alert_on_failure(defs, instance, settings, failed: dg.ExecuteInProcessResult) -> None:
    sensor = next(s for s in defs.sensors if s.name == "run_failure_alert_sensor")
    failure = next(e for e in instance.all_logs(failed.run_id)
                   if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_FAILURE")
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_instance=instance,
        dagster_run=instance.get_run_by_id(failed.run_id),
        dagster_event=failure.dagster_event, resources={"settings": settings},
    ).for_run_failure()
    sensor(context)


def test_a_portal_added_is_scheduled_and_a_revoked_one_fails_alone_alerted_once(
        persistent_instance, settings, emulator, north, alert_receiver, tmp_path):
    instance = persistent_instance  # the schedule's evaluation reopens it
    settings = replace(settings, secrets_file=tmp_path / "secrets.toml")
    defs = build_definitions(settings)
    for portal, emu in (("main", emulator), ("north", north)):
        for title in ("Бампер", "Фара"):
            emu.call("crm.lead.add", {"fields": {"TITLE": f"{portal} {title}"}})
    schedule = next(s for s in defs.schedules if s.name == "sync_minutely_schedule")
    tick = dg.build_schedule_context(instance, resources={"settings": settings},
                                     repository_def=defs.get_repository_def())
    assert [r.partition_key for r in schedule.evaluate_tick(tick).run_requests] == ["main"]

    # a portal added while the deployment runs: the next tick has its partition and its run
    settings.registry.add(Portal("north", "Asia/Yekaterinburg"), north.webhook)
    requests = schedule.evaluate_tick(tick).run_requests
    assert sorted(r.partition_key for r in requests) == ["main", "north"]
    assert sorted(instance.get_dynamic_partitions("portals")) == ["main", "north"]
    assert all(load.success for load in cycle(defs, instance, "main", "north"))
    count = "select count(*) from marts.fct_leads where portal = '{}'"
    assert bi_scalar(settings, count.format("main")) == 2
    assert bi_scalar(settings, count.format("north")) == 2
    north_as_of = bi_scalar(settings, "select data_as_of from marts.mart_pipeline_freshness "
                                      "where portal = 'north'")

    # north revokes its webhook: its load fails, main's goes on and is published
    revoked = north.webhook.replace(north.secret, "revoked-secret-42")
    settings.registry.add(Portal("north", "Asia/Yekaterinburg"), revoked)
    emulator.call("crm.lead.add", {"fields": {"TITLE": "main after the revocation"}})
    main_load, north_load = cycle(defs, instance, "main", "north")
    assert main_load.success and not north_load.success
    assert bi_scalar(settings, count.format("main")) == 3
    assert bi_scalar(settings, count.format("north")) == 2  # its last good data stays
    freshness = "select data_as_of from marts.mart_pipeline_freshness where portal = '{}'"
    assert bi_scalar(settings, freshness.format("north")) == north_as_of  # its own "as of"
    assert bi_scalar(settings, freshness.format("main")) > north_as_of

    _alert_on_failure(defs, instance, settings, north_load)
    (alert,) = alert_receiver.received
    body = alert["json"]
    assert body["event"] == "run_failed" and body["subject"] == "sync_minutely_job"
    assert body["portal"] == "north" and "portal north" in body["text"]
    assert body["run_id"] == north_load.run_id and "INVALID_CREDENTIALS" in body["error"]
    for secret in ("revoked-secret-42", north.secret, emulator.secret):
        assert secret not in alert["raw"]
    error = scalar(settings, "select error from ops.sync_runs where status = 'failed'")
    assert "INVALID_CREDENTIALS" in error and "revoked-secret-42" not in error
    # the outage goes on: the next failure is not alerted again
    (_, again) = cycle(defs, instance, "main", "north")
    assert not again.success
    _alert_on_failure(defs, instance, settings, again)
    assert len(alert_receiver.received) == 1


def test_a_stale_portal_is_reported_once_and_its_recovery_too(defs, instance, settings, demo,
                                                              alert_receiver):
    assert all(load.success for load in cycle(defs, instance, "main"))
    impatient = {"settings": replace(settings, stale_after_minutes=1 / 60)}
    time.sleep(1.5)
    cursor = None
    for _ in range(2):  # the second evaluation does not repeat the alert
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=impatient)
        sensors.staleness_alert_sensor(context)
        cursor = context.cursor
    stale = [a["json"] for a in alert_receiver.received]
    assert {(a["subject"], a["portal"]) for a in stale} == {("bitrix/leads", "main"),
                                                            ("bi/bi_copy", None)}
    assert all(a["event"] == "stale" for a in stale) and len(stale) == 2
    assert set(json.loads(cursor)) == {"bitrix/leads[main]", "bi/bi_copy"}

    assert all(load.success for load in cycle(defs, instance, "main"))
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"settings": settings})
    sensors.staleness_alert_sensor(context)
    assert [a["json"]["event"] for a in alert_receiver.received[2:]] == ["fresh_again"] * 2
    assert json.loads(context.cursor) == {}


def test_the_dbt_step_builds_the_models_asked_for_and_a_failing_model_fails_the_run(
        defs, instance, settings, demo):
    assert all(load.success for load in cycle(defs, instance, "main"))
    marts = next(a for a in defs.assets if isinstance(a, dg.AssetsDefinition)
                 and a.node_def.name == "bitrix_dbt")
    fct_leads = next(k for k in marts.keys if k.path[-1] == "fct_leads")
    demo.call("crm.lead.add", {"fields": {"TITLE": "only the lead fact", "SOURCE_ID": "WEB"}})
    assert run(defs, instance, "sync_minutely_job", "main").success

    # a subset from the launchpad: that model is built and its checks run, nothing else
    one = dg.materialize([marts], selection=[fct_leads], instance=instance,
                         resources={"settings": settings})
    assert one.success
    assert {m.asset_key for m in one.asset_materializations_for_node("bitrix_dbt")} \
        == {fct_leads}
    checks = one.get_asset_check_evaluations()
    assert checks and {c.asset_key for c in checks} == {fct_leads}
    assert all(c.passed for c in checks)
    leads = len(demo.records("lead"))
    assert scalar(settings, "select count(*) from marts.fct_leads") == leads
    assert scalar(settings, "select sum(leads_received) from marts.mart_lead_sources_daily") \
        == leads - 1  # not asked for: still as the last full build left it

    # a model that cannot build fails the step with dbt's reason, after reporting the others
    with settings.warehouse.connect() as con:
        con.execute("drop table bitrix_raw.leads")
    failed = run(defs, instance, jobs.MARTS_JOB)
    assert not failed.success
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    assert "stg_bitrix__leads" in str(failure.event_specific_data.error)
    built = {m.asset_key.path[-1] for m in failed.asset_materializations_for_node("bitrix_dbt")}
    assert "stg_bitrix__deals" in built and "fct_leads" not in built
