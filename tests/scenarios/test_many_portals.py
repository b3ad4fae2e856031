"""Three portals in one deployment, in three time zones, written only through their REST APIs:
the agency that reports for several sellers. Their record IDs overlap (each portal's first lead
is lead 1), as two real portals' do, so every figure below is wrong if a key, join or window
forgets the portal.

The story, all at 20:30 UTC on 10 March 2026: each portal gets a lead from ad 2000000001 and a
deal made from it and won - main (Moscow, UTC+3: 23:30 on the 10th) for 1,000 ₽, north
(Yekaterinburg, UTC+5: 01:30 on the 11th) for 2,000 ₽, east (Vladivostok, UTC+10: 06:30 on the
11th) for 3,000 ₽. east also has a lead it marked junk, and a second deal without a lead, lost.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from emulator.testing import start_emulator
from orchestration.pipeline import operations
from orchestration.pipeline.portals import Portal as Registered
from tests.scenarios.portal import Portal

AD = "2000000001"
WHEN = "2026-03-10T23:30:00+03:00"  # 20:30 UTC


@pytest.fixture
def others():
    """Two more portals, each its own emulator, webhook and secret."""
    started = [start_emulator("--dataset", "empty", "--no-rate-limit", "--no-operating-limit",
                              secret=f"{name}-secret-3c9a") for name in ("north", "east")]
    yield dict(zip(("north", "east"), started, strict=True))
    for emu in started:
        emu.stop()


def _story(portal: Portal, amount: int) -> None:
    portal.at(WHEN)
    lead = portal.lead(TITLE="Бампер", SOURCE_ID="WEB", UTM_SOURCE=AD)
    deal = portal.item(2, title="Бампер", leadId=lead, opportunity=amount, currencyId="RUB")
    portal.update_deal(deal, STAGE_ID="WON")


def test_three_portals_in_three_zones_each_count_their_own_and_add_up_across(
    emulator, any_warehouse, others, tmp_path
):
    settings = replace(any_warehouse, secrets_file=tmp_path / ".dlt" / "secrets.toml")
    settings.registry.add(Registered("north", "Asia/Yekaterinburg"), others["north"].webhook)
    settings.registry.add(Registered("east", "Asia/Vladivostok"), others["east"].webhook)
    main, north, east = (Portal(emu, settings) for emu in (emulator, *others.values()))
    _story(main, 1000)
    _story(north, 2000)
    _story(east, 3000)
    east.update_lead(east.lead(TITLE="Тест", SOURCE_ID="WEB"), STATUS_ID="JUNK")
    east.update_deal(east.deal(TITLE="Решётка", OPPORTUNITY=500), STAGE_ID="LOSE")

    cycle = operations.run(settings, operations.Sync(), rate_per_second=0)
    assert [r.portal for r in cycle.runs] == ["east", "main", "north"]

    # each portal's lead 1, on its own local day
    assert main.rows("select portal, lead_id, created_date, outcome, revenue from marts.fct_leads"
                     " order by portal, lead_id") == [
        ("east", 1, date(2026, 3, 11), "in_work", Decimal("3000.00")),
        ("east", 2, date(2026, 3, 11), "junk", Decimal("0.00")),
        ("main", 1, date(2026, 3, 10), "in_work", Decimal("1000.00")),
        ("north", 1, date(2026, 3, 11), "in_work", Decimal("2000.00")),
    ]
    # the obvious BI query, across portals and per portal
    assert main.value("select sum(amount) from marts.fct_deals where outcome = 'won'") == 6000
    assert main.rows("select portal, count(*), sum(amount) from marts.fct_deals"
                     " where outcome = 'won' group by portal order by portal") == [
        ("east", 1, Decimal("3000.00")), ("main", 1, Decimal("1000.00")),
        ("north", 1, Decimal("2000.00"))]
    # the day a lead and its revenue count on is the portal's own
    assert main.rows("select portal, lead_date, sum(leads_received), sum(junk_leads),"
                     " sum(deals_won), sum(revenue) from marts.mart_lead_sources_daily"
                     " group by 1, 2 order by 1, 2") == [
        ("east", date(2026, 3, 11), 2, 1, 1, Decimal("3000.00")),
        ("main", date(2026, 3, 10), 1, 0, 1, Decimal("1000.00")),
        ("north", date(2026, 3, 11), 1, 0, 1, Decimal("2000.00")),
    ]
    # the same ad ID on three portals is three ads, each first on its portal
    assert main.rows("select portal, ad_id, leads, deals_won, revenue, revenue_rank"
                     " from marts.mart_ad_performance order by portal") == [
        ("east", AD, 1, 1, Decimal("3000.00"), 1), ("main", AD, 1, 1, Decimal("1000.00"), 1),
        ("north", AD, 1, 1, Decimal("2000.00"), 1)]
    # each portal's admin (user 1) took its leads and closed its deals
    assert main.rows("select portal, manager_id, leads_taken, deals_won, deals_lost, revenue"
                     " from marts.mart_manager_performance order by portal") == [
        ("east", 1, 2, 1, 1, Decimal("3000.00")), ("main", 1, 1, 1, 0, Decimal("1000.00")),
        ("north", 1, 1, 1, 0, Decimal("2000.00"))]
    assert main.rows("select portal, lost_deals, lost_amount from marts.mart_deal_losses") == [
        ("east", 1, Decimal("500.00"))]
    # every check of every portal; east's deal without a lead is listed on east alone
    assert main.rows("select portal, failing_rows, example_ids from marts.mart_data_quality"
                     " where check_name = 'deals_without_lead' order by portal") == [
        ("east", 1, [2]), ("main", 0, []), ("north", 0, [])]
    assert main.value("select count(*) from marts.mart_data_quality") == 3 * 11
    assert main.rows("select portal, row_count, last_run_status from marts.mart_pipeline_freshness"
                     " where entity = 'leads' order by portal") == [
        ("east", 2, "success"), ("main", 1, "success"), ("north", 1, "success")]
    main.finish()  # every data test, on three portals' data
