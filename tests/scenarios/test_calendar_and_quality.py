"""Stories about days, templates and dirty tags: a lead at 01:30 Moscow time belongs to that
Moscow day, a recurring-deal template is never a deal nor revenue, and an integrator's test
tags are listed, not counted as a campaign."""

from datetime import date, datetime
from decimal import Decimal


def test_a_lead_created_at_0130_moscow_time_is_a_lead_of_that_day_and_month(portal):
    anna = portal.manager("Анна Смирнова")
    for when in ("2024-04-22T23:59:00+03:00", "2024-04-23T01:30:00+03:00",
                 "2024-05-01T00:30:00+03:00"):
        portal.at(when)
        portal.lead(TITLE="Звонок", SOURCE_ID="CALL", ASSIGNED_BY_ID=anna)
    portal.sync()

    assert portal.rows(
        "select lead_date, leads_received from marts.mart_lead_sources_daily order by 1"
    ) == [(date(2024, 4, 22), 1), (date(2024, 4, 23), 1), (date(2024, 5, 1), 1)]
    assert portal.rows("select created_at from marts.fct_leads order by 1")[1] == (
        datetime(2024, 4, 22, 22, 30),)  # timestamps are UTC
    assert portal.rows(
        "select month, leads_taken from marts.mart_manager_performance order by 1"
    ) == [(date(2024, 4, 1), 2), (date(2024, 5, 1), 1)]


def test_a_recurring_deal_template_is_never_a_deal_nor_revenue(portal):
    portal.at("2024-05-20T10:00:00+03:00")
    template = portal.deal(TITLE="Ежемесячная поставка", OPPORTUNITY=9000, IS_RECURRING="Y",
                           STAGE_ID="WON")
    sale = portal.deal(TITLE="Поставка", OPPORTUNITY=1000, STAGE_ID="WON")
    portal.sync()

    assert portal.rows("select deal_id from marts.fct_deals") == [(sale,)]
    assert portal.value("select sum(amount) from marts.fct_deals where outcome = 'won'") == 1000
    assert portal.value("select sum(revenue) from marts.mart_manager_performance") == 1000
    assert portal.rows("select deal_id from marts.mart_cross_sell") == [(sale,)]
    assert portal.rows(
        "select failing_rows, example_ids from marts.mart_data_quality"
        " where check_name = 'recurring_templates'"
    ) == [(1, [template])]
    # neither a deal without a lead to fix: it is no deal at all
    assert portal.value("select failing_rows from marts.mart_data_quality"
                        " where check_name = 'deals_without_lead'") == 1


def test_an_integrators_test_tags_are_listed_not_counted_as_a_campaign(portal):
    portal.source("UC_AVITO", "Авито")
    portal.at("2024-05-21T10:00:00+03:00")
    junk = [portal.lead(TITLE="Проверка", SOURCE_ID="UC_AVITO", UTM_SOURCE=tag,
                        UTM_CAMPAIGN="{campaign}") for tag in ("test", "{ad_id}", "123")]
    untagged = portal.lead(TITLE="Авито без метки", SOURCE_ID="UC_AVITO")
    clean = portal.lead(TITLE="Авито", SOURCE_ID="UC_AVITO", UTM_SOURCE="2000000005",
                        UTM_CAMPAIGN="оптика")
    portal.sync()

    checks = dict(
        (name, (failing, checked, ids)) for name, failing, checked, ids in portal.rows(
            "select check_name, failing_rows, checked_rows, example_ids"
            " from marts.mart_data_quality")
    )
    assert checks["junk_utm_tags"] == (3, 5, sorted(junk))
    # an Avito lead must carry the ad ID: the three test tags are no ad IDs either
    assert checks["missing_ad_id"] == (4, 5, sorted([*junk, untagged]))
    assert portal.rows("select ad_id, leads from marts.mart_ad_performance") == [
        ("2000000005", 1)]
    assert clean not in checks["junk_utm_tags"][2]
    assert portal.value("select sum(revenue) from marts.mart_lead_sources_daily") == Decimal(0)
