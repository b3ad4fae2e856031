"""Stories about which ad sells: deals an integration creates without a lead (the Avito robot
puts the ad ID in the deal's own UTM_SOURCE), deals linked to their lead through `crm.item.add`,
and the one rule when both carry tags (the lead's, when it has a UTM_SOURCE)."""

from datetime import date
from decimal import Decimal


def test_a_won_deal_an_integration_created_without_a_lead_credits_its_own_ad(portal):
    portal.source("UC_AVITO", "Авито")
    anna, boris = portal.manager("Анна Смирнова"), portal.manager("Борис Орлов")
    portal.at("2024-05-06T11:00:00+03:00")
    portal.lead(TITLE="Авито: бампера", SOURCE_ID="UC_AVITO", UTM_SOURCE="2000000001",
                UTM_MEDIUM="avito", UTM_CAMPAIGN="бампера", ASSIGNED_BY_ID=anna)
    robot = portal.deal(TITLE="Заказ с Авито", SOURCE_ID="UC_AVITO", UTM_SOURCE="2000000002",
                        UTM_MEDIUM="avito", UTM_CAMPAIGN="оптика", OPPORTUNITY=7000,
                        ASSIGNED_BY_ID=boris)
    portal.sync()
    portal.at("2024-05-07T10:00:00+03:00")
    portal.update_deal(robot, STAGE_ID="WON")
    portal.sync()

    assert portal.rows(
        "select ad_id, ad_group, leads, deals_won, deals_won_without_lead, revenue,"
        " revenue_per_lead, revenue_rank, first_lead_date"
        " from marts.mart_ad_performance order by ad_id"
    ) == [
        ("2000000001", "бампера", 1, 0, 0, Decimal("0.00"), Decimal("0.00"), 2,
         date(2024, 5, 6)),
        ("2000000002", "оптика", 0, 1, 1, Decimal("7000.00"), None, 1, None),
    ]
    # Revenue by ad equals the revenue of the won deals that carry an ad ID.
    assert portal.value("select sum(revenue) from marts.mart_ad_performance") == 7000
    # The source mart credits the deal on its own day and tags; each won deal counts once.
    assert portal.rows(
        "select lead_date, utm_source, leads_received, deals_won, revenue"
        " from marts.mart_lead_sources_daily order by utm_source"
    ) == [
        (date(2024, 5, 6), "2000000001", 1, 0, Decimal("0.00")),
        (date(2024, 5, 6), "2000000002", 0, 1, Decimal("7000.00")),
    ]
    assert portal.value(f"select attributed_by from marts.fct_deals where deal_id = {robot}") \
        == "deal"
    assert portal.rows("select check_name, failing_rows, example_ids from marts.mart_data_quality"
                       " where check_name like 'deals_without%' order by 1") == [
        ("deals_without_lead", 1, [robot]),
        ("deals_without_lead_or_utm", 0, []),
    ]


def test_a_deal_made_from_a_lead_through_crm_item_add_is_credited_to_the_leads_ad_and_day(
    portal,
):
    portal.source("UC_AVITO", "Авито")
    anna, boris = portal.manager("Анна Смирнова"), portal.manager("Борис Орлов")
    portal.at("2024-05-06T23:30:00+03:00")
    avito = portal.lead(TITLE="Авито: решетки", SOURCE_ID="UC_AVITO", UTM_SOURCE="2000000003",
                        UTM_MEDIUM="avito", UTM_CAMPAIGN="решетки", ASSIGNED_BY_ID=anna)
    call = portal.lead(TITLE="Входящий звонок", SOURCE_ID="CALL", ASSIGNED_BY_ID=anna)
    portal.sync()

    portal.at("2024-05-08T10:00:00+03:00")
    portal.update_lead(avito, STATUS_ID="CONVERTED")
    portal.update_lead(call, STATUS_ID="CONVERTED")
    # The lead's deal carries other tags of its own: the lead's win (it has a UTM_SOURCE).
    from_avito = portal.item(2, title="Решётка Camry", leadId=avito, opportunity=5000,
                             utmSource="manual", assignedById=boris)
    # The call lead has no tags; its deal was tagged by the site's call tracking: the deal's.
    from_call = portal.item(2, title="Фара", leadId=call, opportunity=2500,
                            sourceId="WEB", utmSource="yandex", utmMedium="cpc",
                            assignedById=boris)
    portal.sync()
    portal.at("2024-05-09T12:00:00+03:00")
    portal.update_item(2, from_avito, stageId="WON")
    portal.update_item(2, from_call, stageId="WON")
    portal.sync()

    assert portal.rows(
        "select deal_id, lead_id, attributed_by, source_id, utm_source, ad_id, attributed_date"
        " from marts.fct_deals order by deal_id"
    ) == [
        (from_avito, avito, "lead", "UC_AVITO", "2000000003", "2000000003", date(2024, 5, 6)),
        (from_call, call, "deal", "WEB", "yandex", None, date(2024, 5, 8)),
    ]
    assert portal.rows(
        "select lead_id, outcome, converted_deal_id, deals_won, revenue from marts.fct_leads"
        " order by lead_id"
    ) == [
        (avito, "quality", from_avito, 1, Decimal("5000.00")),
        (call, "quality", from_call, 1, Decimal("2500.00")),
    ]
    # 23:30 Moscow on May 6 is a lead of May 6; its deal's revenue counts there.
    assert portal.rows(
        "select lead_date, source_id, utm_source, leads_received, quality_leads, deals_won,"
        " revenue, revenue_per_lead from marts.mart_lead_sources_daily order by lead_date, 2"
    ) == [
        (date(2024, 5, 6), "CALL", None, 1, 1, 0, Decimal("0.00"), Decimal("0.00")),
        (date(2024, 5, 6), "UC_AVITO", "2000000003", 1, 1, 1, Decimal("5000.00"),
         Decimal("5000.00")),
        (date(2024, 5, 8), "WEB", "yandex", 0, 0, 1, Decimal("2500.00"), None),
    ]
    assert portal.rows(
        "select ad_id, leads, deals_won, revenue from marts.mart_ad_performance"
    ) == [("2000000003", 1, 1, Decimal("5000.00"))]
    # Anna took both leads; Boris closed both deals.
    assert portal.rows(
        "select manager_id, leads_taken, quality_leads, deals_won, revenue, average_check,"
        " win_rate from marts.mart_manager_performance order by manager_id"
    ) == [
        (anna, 2, 2, 0, Decimal("0.00"), None, None),
        (boris, 0, 0, 2, Decimal("7500.00"), Decimal("3750.00"), 1.0),
    ]
