"""Stories about records that go away and come back: a deal and a lead deleted on the portal
(no tombstone; `reconcile` finds them by comparing IDs), and a deal a user restores from the
recycle bin (Корзина) with its ID, fields and history unchanged."""

from decimal import Decimal

from tests.warehouse import table


def test_deleted_records_leave_every_fact_and_mart_after_reconcile(portal):
    anna = portal.manager("Анна Смирнова")
    portal.at("2024-05-13T10:00:00+03:00")
    kept_lead = portal.lead(TITLE="Звонок", SOURCE_ID="CALL", ASSIGNED_BY_ID=anna)
    gone_lead = portal.lead(TITLE="Дубль", SOURCE_ID="CALL", ASSIGNED_BY_ID=anna)
    kept = portal.item(2, title="Бампер", leadId=kept_lead, opportunity=6000, assignedById=anna)
    gone = portal.deal(TITLE="Тестовая сделка", OPPORTUNITY=7777, ASSIGNED_BY_ID=anna)
    portal.at("2024-05-13T12:00:00+03:00")
    portal.update_deal(kept, STAGE_ID="WON")
    portal.update_deal(gone, STAGE_ID="WON")
    portal.sync()
    assert portal.value("select sum(amount) from marts.fct_deals where outcome = 'won'") == 13777
    # a later sync with another change: what the facts last built from is newer than any load
    # of the records about to go, so only the reconcile's own load can take them out
    portal.at("2024-05-14T08:00:00+03:00")
    portal.update_deal(kept, TITLE="Бампер передний")
    portal.sync()

    portal.at("2024-05-14T09:00:00+03:00")
    portal.delete("deal", gone)
    portal.delete("lead", gone_lead)
    portal.sync()
    portal.reconcile()

    # What a BI user gets by the obvious query is the truth.
    assert portal.value("select sum(amount) from marts.fct_deals where outcome = 'won'") == 6000
    assert portal.rows("select lead_id from marts.fct_leads") == [(kept_lead,)]
    assert portal.value("select sum(revenue) from marts.mart_lead_sources_daily") == 6000
    assert portal.value("select sum(leads_received) from marts.mart_lead_sources_daily") == 1
    assert portal.value("select sum(revenue) from marts.mart_manager_performance") == 6000
    assert portal.value("select sum(leads_taken) from marts.mart_manager_performance") == 1
    assert portal.value(f"select count(*) from marts.fct_stage_intervals where record_id = {gone}"
                        f" and entity = 'deal'") == 0
    assert portal.value("select sum(cohort_size) from marts.mart_funnel_conversion"
                        " where entity = 'lead' and stage_id = 'NEW'") == 1
    # The data engineer finds them here, as last seen.
    assert portal.rows(
        "select entity, record_id, outcome, amount from marts.fct_deleted_records order by 1"
    ) == [("deal", gone, "won", Decimal("7777.00")), ("lead", gone_lead, "in_work", Decimal(0))]


def test_a_deal_restored_from_the_recycle_bin_counts_again(portal):
    portal.at("2024-05-13T10:00:00+03:00")
    deal = portal.deal(TITLE="Фара", OPPORTUNITY=5000, STAGE_ID="WON")
    portal.sync()
    portal.at("2024-05-13T11:00:00+03:00")
    portal.delete("deal", deal)
    portal.reconcile()
    assert portal.value("select count(*) from marts.fct_deals") == 0
    assert portal.rows("select entity, record_id from marts.fct_deleted_records") == [
        ("deal", deal)]

    portal.at("2024-05-13T12:00:00+03:00")
    portal.restore("deal", deal)  # back with its old DATE_MODIFY: no sync would see it
    portal.sync()
    assert portal.value("select count(*) from marts.fct_deals") == 0
    portal.reconcile()
    assert portal.rows("select deal_id, outcome, amount from marts.fct_deals") == [
        (deal, "won", Decimal("5000.00"))]
    assert portal.value("select count(*) from marts.fct_deleted_records") == 0
    assert portal.value("select count(*) from marts.fct_stage_intervals") == 1


def test_a_record_restored_before_any_sync_saw_it_is_loaded_by_reconcile(portal):
    # Regression found by the stateful test: restored with its old DATE_MODIFY and history IDs
    # below the cursor, it was on the portal and never in the warehouse.
    portal.at("2024-05-13T10:00:00+03:00")
    lead = portal.lead(TITLE="Звонок", SOURCE_ID="CALL")
    deal = portal.item(2, title="Фара", leadId=lead, opportunity=3000)
    portal.call("crm.deal.productrows.set", {"id": deal, "rows": [
        {"PRODUCT_ID": 21, "PRODUCT_NAME": "Фара левая", "PRICE": 3000}]})
    portal.call("crm.activity.add", {"fields": {"OWNER_TYPE_ID": 2, "OWNER_ID": deal,
                                                "TYPE_ID": 2, "SUBJECT": "Звонок клиенту"}})
    portal.at("2024-05-13T10:30:00+03:00")
    portal.update_deal(deal, STAGE_ID="WON")
    portal.delete("deal", deal)
    portal.lead(TITLE="Ещё звонок", SOURCE_ID="CALL")  # history rows after the deleted deal's
    portal.at("2024-05-13T11:00:00+03:00")
    portal.sync()
    portal.at("2024-05-13T12:00:00+03:00")
    portal.restore("deal", deal)
    portal.sync()
    assert portal.value("select count(*) from marts.fct_deals") == 0

    portal.reconcile()
    assert portal.rows("select deal_id, lead_id, outcome, amount from marts.fct_deals") == [
        (deal, lead, "won", Decimal("3000.00"))]
    assert portal.rows("select stage_id from marts.fct_stage_intervals where entity = 'deal'"
                       " order by entered_at") == [("NEW",), ("WON",)]
    assert portal.value("select revenue from marts.fct_leads where lead_id = 1") == 3000
    # what hangs on the deal came back with it: what it sold, and the call about it
    assert portal.rows("select product_id, revenue from marts.mart_product_sales") == [
        (21, Decimal("3000.00"))]
    assert [(a["owner_id"], a["subject"]) for a in table(portal.settings, "activities")] == [
        (deal, "Звонок клиенту")]
