"""The Dagster definitions: exactly the expected graph, and one lineage from the portal to BI."""

import json

import dagster as dg

from orchestration.dagster import jobs
from orchestration.dagster.assets import BI_KEY, PORTALS, SPEC_WEBHOOK
from orchestration.pipeline import transform
from sources.bitrix24 import bitrix24_source
from tests.warehouse import MARTS

RAW_TABLES = {
    "leads", "lead_versions", "deals", "deal_versions", "lead_stage_history",
    "deal_stage_history", "statuses", "deal_categories", "users", "departments",
    "currency_rates", "deleted_records", "contacts", "activities", "deal_products",
}


def _keys(graph, prefix: str) -> set[str]:
    return {k.path[-1] for k in graph.get_all_asset_keys() if k.path[0] == prefix}


def test_definitions_hold_exactly_the_expected_assets_jobs_schedules_and_sensors(defs):
    graph = defs.resolve_asset_graph()
    assert _keys(graph, "bitrix") == RAW_TABLES
    assert _keys(graph, "marts") == MARTS
    assert _keys(graph, "ops") == {"sync_runs"}
    assert _keys(graph, "bi") == {"bi_copy"}
    assert {k.path[0] for k in graph.get_all_asset_keys()} == {
        "bitrix", "ops", "staging", "intermediate", "marts", "bi"}
    assert all(graph.get(k).is_materializable for k in graph.get_all_asset_keys())
    assert {j.name for j in defs.resolve_all_job_defs()} >= {
        "sync_minutely_job", "reconcile_hourly_job", "backfill_job", "marts_job"}
    assert {s.name: s.cron_schedule for s in defs.schedules} == {
        "sync_minutely_schedule": "* * * * *", "reconcile_hourly_schedule": "17 * * * *"}
    assert {s.name for s in defs.sensors} == {
        "marts_after_loads", "run_failure_alert_sensor", "staleness_alert_sensor"}
    # a load is a portal's (one dynamic partition each); one set of marts holds every portal
    for name in jobs.LOAD_JOBS:
        assert defs.resolve_job_def(name).partitions_def == PORTALS
    assert {k.path[0] for k in graph.get_all_asset_keys() if graph.get(k).partitions_def} == {
        "bitrix", "ops"}
    # every dbt data test is an asset check; the unique test of each mart key among them
    checks = {(c.asset_key.path[-1], c.name) for c in graph.asset_check_keys}
    manifest = json.loads((transform.PROJECT_DIR / "target" / "manifest.json").read_text())
    assert len(checks) == sum(node["resource_type"] == "test"
                              for node in manifest["nodes"].values())
    assert ("fct_leads", "unique_combination_fct_leads_portal__lead_id") in checks


def test_every_dbt_source_is_loaded_by_the_dlt_asset_so_lineage_is_one_graph(defs):
    graph = defs.resolve_asset_graph()
    raw = next(a for a in defs.assets if "bitrix24_raw" in a.node_def.name)
    for key in graph.get_all_asset_keys():
        if key.path[0] != "staging":
            continue
        (parent,) = graph.get(key).parent_keys
        assert parent in raw.keys, f"{key.to_user_string()} reads {parent}, which no asset loads"
    # …and the dlt asset lists exactly the tables the source loads
    source = bitrix24_source(webhook_url=SPEC_WEBHOOK)
    source_tables = set(source.selected_resources)
    assert {k.path[-1] for k in raw.keys if k.path[0] == "bitrix"} == source_tables


def test_raw_marts_and_bi_copy_are_stale_after_the_configured_minutes(defs):
    graph = defs.resolve_asset_graph()
    for key in (dg.AssetKey(["bitrix", "leads"]), dg.AssetKey(["marts", "fct_deals"]), BI_KEY):
        policy = graph.get(key).freshness_policy
        assert policy is not None and policy.fail_window.to_timedelta().total_seconds() == 300


def test_jobs_run_in_process_and_builds_share_the_duckdb_pool_while_loads_do_not(defs):
    for name in jobs.WRITER_JOBS:
        job = defs.resolve_job_def(name)
        assert job.executor_def is dg.in_process_executor
    pools = {assets.node_def.name: assets.node_def.pool for assets in defs.assets}
    # loads of different portals run side by side, taking the writer lock only to commit
    assert pools.pop("bitrix24_raw") is None
    assert set(pools.values()) == {"duckdb_writer"}, pools


def test_the_minute_schedule_skips_a_portal_whose_load_is_still_going(defs, persistent_instance,
                                                                       warehouse):
    instance = persistent_instance  # the schedule's evaluation reopens it
    schedule = next(s for s in defs.schedules if s.name == "sync_minutely_schedule")
    tick = dg.build_schedule_context(instance, resources={"settings": warehouse},
                                     repository_def=defs.get_repository_def())
    (request,) = schedule.evaluate_tick(tick).run_requests
    assert request.partition_key == "main"
    job = defs.resolve_job_def("reconcile_hourly_job")
    instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED,
                                tags={jobs.PARTITION_TAG: "main"})
    result = schedule.evaluate_tick(tick)
    assert not result.run_requests
    assert "every portal's load is still going (main)" in result.skip_message


def test_the_instance_settings_that_make_dev_installs_are_valid(tmp_path, monkeypatch):
    import shutil

    from orchestration.dagster import DAGSTER_YAML

    shutil.copy(DAGSTER_YAML, tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        config = instance.get_concurrency_config()
        assert config.pool_config.default_pool_limit == 1
        # one run per portal at a time: a load run's partition is its portal
        assert config.run_queue_config.tag_concurrency_limits == [
            {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]


def test_the_dbt_manifest_is_parsed_again_only_when_stale_and_swapped_in_whole(tmp_path,
                                                                               warehouse):
    import os

    from orchestration.pipeline.transform import ensure_manifest

    manifest = ensure_manifest(warehouse, tmp_path / "target")
    assert "model.bitrix_warehouse.mart_attribution" in manifest.read_text()
    os.utime(manifest, (0, 0))  # older than every model: stale
    ensure_manifest(warehouse, tmp_path / "target")
    fresh = manifest.stat().st_mtime
    assert fresh > 0
    assert ensure_manifest(warehouse, tmp_path / "target").stat().st_mtime == fresh  # no re-parse
    assert [p.name for p in (tmp_path / "target").iterdir()] == ["manifest.json"]
