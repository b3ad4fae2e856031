"""dbt on the demo portal: source → `dbt build` (models, data tests, unit tests) → cross-checks."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from emulator.testing import ROOT
from orchestration.pipeline import transform
from tests.warehouse import INCREMENTAL, MARTS, incremental_rows, reconcile, scalar, sync

DBT = Path(sys.executable).with_name("dbt")


# The whole `dbt build` a developer runs, unit tests included, by the production command line.
BUILD = transform.Build(unit_tests=True).command()


def dbt(warehouse, *command: str) -> subprocess.CompletedProcess:
    """The `dbt` executable, with the command line every runner of the product uses."""
    return subprocess.run(
        [str(DBT), *transform.arguments(warehouse, list(command), target(warehouse))],
        cwd=ROOT, capture_output=True, text=True, timeout=600)


def target(warehouse) -> Path:
    return transform.target_of(warehouse)


def outcome(warehouse) -> tuple[Counter, str]:
    """The statuses of the last command's nodes, and the tail of its log."""
    results = json.loads((target(warehouse) / "run_results.json").read_text())["results"]
    log = (target(warehouse) / "logs" / "dbt.log").read_text()[-3000:]
    return Counter(r["status"] for r in results), log


def test_dbt_build_passes_on_the_demo_portal_and_the_marts_add_up(warehouse, demo):
    sync(warehouse)
    deleted = int(demo.records("lead")[0]["ID"])
    demo.call("crm.lead.delete", {"id": deleted})
    reconcile(warehouse)
    result = dbt(warehouse, *BUILD)
    statuses, log = outcome(warehouse)
    assert result.returncode == 0, log
    assert statuses["error"] == statuses["fail"] == statuses["skipped"] == 0, statuses
    assert statuses["success"] > 0 and statuses["pass"] > 0
    # The demo portal's anomalies make the data-quality checks warn, not fail.
    assert statuses["warn"] == 1, statuses

    leads = scalar(warehouse, "select count(*) from marts.fct_leads")
    assert leads == len(demo.records("lead"))
    assert scalar_rows(warehouse, "select entity, record_id from marts.fct_deleted_records") == [
        ("lead", deleted)]
    daily = scalar(warehouse, "select sum(leads_received) from marts.mart_lead_sources_daily")
    assert daily == leads
    outcomes = scalar(warehouse, "select sum(quality_leads + junk_leads + in_work_leads)"
                                 " from marts.mart_lead_sources_daily")
    assert outcomes == leads
    # Every won deal's revenue is credited to one source row, with a lead or without.
    revenue = scalar(warehouse, "select sum(revenue) from marts.mart_lead_sources_daily")
    won = scalar(warehouse, "select sum(amount) from staging.stg_bitrix__deals"
                            " where stage_semantic_id = 'S' and not is_recurring_template")
    assert revenue == won and revenue > 0

    # Every manager metric credits one manager, so the sums over managers are the totals.
    taken = scalar(warehouse, "select sum(leads_taken) from marts.mart_manager_performance")
    assert taken == leads
    manager_revenue = scalar(warehouse, "select sum(revenue) from marts.mart_manager_performance")
    deal_revenue = scalar(warehouse, "select sum(amount) from marts.fct_deals where is_revenue")
    assert manager_revenue == deal_revenue
    assert scalar(warehouse, "select max(win_rate) from marts.mart_manager_performance") <= 1
    # Ads: revenue over ads equals the revenue of the won deals that carry an ad ID, the
    # Avito integration's deals without a lead among them.
    ad_revenue = scalar(warehouse, "select sum(revenue) from marts.mart_ad_performance")
    deal_ad_revenue = scalar(warehouse, "select sum(amount) from marts.fct_deals"
                                        " where is_revenue and ad_id is not null")
    assert ad_revenue == deal_ad_revenue > 0
    assert scalar(warehouse, "select sum(deals_won_without_lead)"
                             " from marts.mart_ad_performance") > 0
    # The funnel by manager adds up to the funnel, and the demo moved deals between funnels.
    assert scalar_rows(warehouse, "select entity, stage_id, sum(entered), sum(reached)"
                                  " from marts.mart_funnel_by_manager group by all order by all"
                       ) == scalar_rows(warehouse, "select entity, stage_id, sum(entered),"
                                        " sum(reached) from marts.mart_funnel_conversion"
                                        " group by all order by all")
    assert scalar(warehouse, "select max(conversion_from_previous)"
                             " from marts.mart_funnel_by_manager") <= 1
    assert scalar(warehouse, "select count(*) from staging.stg_bitrix__deal_stage_history"
                             " where record_type = 5") > 0
    assert scalar(warehouse, "select count(*) from marts.mart_ad_performance"
                             " where revenue_rank = 1") >= 1

    # Attribution: every model shares each attributed deal's whole amount.
    per_model = dict(scalar_rows(warehouse, "select model, sum(revenue) from marts.mart_attribution"
                                            " group by model"))
    attributed = scalar(warehouse, "select sum(amount) from marts.fct_deals where is_revenue"
                                   " and deal_id in (select deal_id from marts.mart_attribution)")
    assert per_model["linear"] == per_model["first_touch"] == per_model["last_touch"] == attributed
    # Every anomaly the demo portal carries is found.
    failing = dict(scalar_rows(warehouse, "select check_name, failing_rows"
                                          " from marts.mart_data_quality"))
    for check in ("empty_lead_status", "unknown_lead_status", "missing_ad_id", "junk_utm_tags",
                  "deals_without_lead", "deals_without_lead_or_utm", "recurring_templates"):
        assert failing[check] > 0, check
    # What was sold: every demo deal's rows add up to its amount, so products share the revenue.
    assert scalar(warehouse, "select sum(revenue) from marts.mart_product_sales") == scalar(
        warehouse, "select sum(amount) from marts.fct_deals where is_revenue")
    assert scalar(warehouse, "select count(*) from marts.mart_cross_sell"
                             " where products_amount is distinct from amount_at_close") == 0
    # Most leads are answered by a call or chat, and a repeat contact makes a repeat deal.
    answered = scalar(warehouse, "select avg(case when first_answered_at is not null then 1"
                                 " else 0 end) from marts.fct_leads")
    assert 0.8 < answered < 1
    assert scalar(warehouse, "select count(*) from marts.fct_deals where is_repeat_contact"
                             " and not is_repeat") == 0
    # A portal validates amounts and dates, so the demo has none that fail to parse.
    for check in ("unknown_deal_stage", "unparsable_lead_values", "unparsable_deal_values",
                  "deal_currency_without_rate"):
        assert failing[check] == 0, check


def scalar_rows(warehouse, sql):
    import duckdb

    with duckdb.connect(str(warehouse.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_docs_generate_and_every_mart_column_is_described(warehouse, demo):
    sync(warehouse)  # no reconcile yet: the marts build before a first deletion check
    assert dbt(warehouse, *BUILD).returncode == 0, outcome(warehouse)[1]
    docs = dbt(warehouse, "docs", "generate")
    assert docs.returncode == 0, outcome(warehouse)[1]
    catalog = json.loads((target(warehouse) / "catalog.json").read_text())
    manifest = json.loads((target(warehouse) / "manifest.json").read_text())
    marts = [n for n in manifest["nodes"].values()
             if n["resource_type"] == "model" and n["schema"] == "marts"]
    assert {n["name"] for n in marts} == MARTS
    for node in marts:
        assert node["description"].strip(), node["name"]
        built = catalog["nodes"][node["unique_id"]]["columns"]
        documented = {name.lower(): c["description"] for name, c in node["columns"].items()}
        missing = [c for c in built if not documented.get(c.lower(), "").strip()]
        assert not missing, (node["name"], missing)
        # the BI contract: every column's type is declared and checked at build time
        assert node["contract"]["enforced"], node["name"]
        untyped = [c for c, column in node["columns"].items() if not column.get("data_type")]
        assert not untyped, (node["name"], untyped)


def test_dbt_build_passes_on_a_new_empty_portal(warehouse, emulator):
    sync(warehouse)
    result = dbt(warehouse, *BUILD)
    assert result.returncode == 0, outcome(warehouse)[1]
    assert scalar(warehouse, "select count(*) from marts.fct_leads") == 0
    assert scalar(warehouse, "select count(*) from marts.mart_data_quality") == 11


def test_incremental_models_of_a_release_without_portals_are_rebuilt_whole_once(
    warehouse, emulator
):
    """An upgrade: the incremental models built before they were keyed on the portal lack the
    column; the next routine build empties them and takes every row again, instead of keeping
    the old rows beside the new ones (a delete+insert keyed on a column they lack)."""
    deals = [emulator.call("crm.deal.add", {"fields": {"TITLE": f"Фара {i}", "OPPORTUNITY": 900}})
             ["result"] for i in range(3)]
    sync(warehouse)
    transform.build(warehouse, transform.Build(data_tests=False))
    with warehouse.warehouse.connect() as con:
        for model in INCREMENTAL:
            con.execute(f"alter table intermediate.{model} drop column portal")
    emulator.call("crm.deal.update", {"id": deals[0], "fields": {"STAGE_ID": "WON"}})
    sync(warehouse)
    transform.build(warehouse, transform.Build(data_tests=False))
    upgraded = incremental_rows(warehouse)
    transform.build(warehouse, transform.Build(data_tests=False, full_refresh=True))
    assert upgraded == incremental_rows(warehouse)
    assert all(rows for rows in upgraded.values())


def test_the_stays_fact_a_release_rebuilt_every_run_is_rebuilt_whole_once(warehouse, emulator):
    """An upgrade: fct_stage_intervals was a table rebuilt every run, without the mark
    (`last_loaded_at`) it is now built incrementally by; the next routine build empties it and
    takes every stay again (a deal moved and one deleted meanwhile), as a full rebuild would."""
    deals = [emulator.call("crm.deal.add", {"fields": {"TITLE": f"Фара {i}", "OPPORTUNITY": 900}})
             ["result"] for i in range(3)]
    sync(warehouse)
    transform.build(warehouse, transform.Build(data_tests=False))
    with warehouse.warehouse.connect() as con:
        con.execute("alter table marts.fct_stage_intervals drop column last_loaded_at")
    emulator.call("crm.deal.update", {"id": deals[0], "fields": {"STAGE_ID": "WON"}})
    emulator.call("crm.deal.delete", {"id": deals[1]})
    sync(warehouse)
    reconcile(warehouse)
    transform.build(warehouse, transform.Build(data_tests=False))
    query = "select * from marts.fct_stage_intervals order by stay_id"
    upgraded = named_rows(warehouse, query)
    transform.build(warehouse, transform.Build(data_tests=False, full_refresh=True))
    assert upgraded == named_rows(warehouse, query)
    assert {row["record_id"] for row in upgraded if row["entity"] == "deal"} == {
        int(deals[0]), int(deals[2])}


def named_rows(warehouse, sql: str) -> list[dict]:
    with warehouse.warehouse.connect(read_only=True) as con:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
