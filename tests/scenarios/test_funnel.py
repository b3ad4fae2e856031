"""Stories about the funnel: a deal that skips the middle stages, one lost on the way, and a deal
moved to another funnel (`crm.item.update` with `categoryId`, stage-history TYPE_ID 5)."""

from datetime import date
from decimal import Decimal


def test_a_deal_won_without_passing_the_middle_stages_still_reached_them(portal):
    portal.at("2024-05-02T10:00:00+03:00")
    quick = portal.deal(TITLE="Сразу оплатил", OPPORTUNITY=4000)
    slow = portal.deal(TITLE="Передумал", OPPORTUNITY=900)
    portal.at("2024-05-02T11:00:00+03:00")
    portal.update_deal(quick, STAGE_ID="WON")
    portal.update_deal(slow, STAGE_ID="PREPARATION")
    portal.at("2024-05-04T11:00:00+03:00")
    portal.update_deal(slow, STAGE_ID="LOSE")
    portal.sync()

    funnel = portal.rows(
        "select stage_id, cohort_size, entered, reached, lost_at_stage,"
        " conversion_from_previous, median_days_in_stage"
        " from marts.mart_funnel_conversion where entity = 'deal' order by stage_position"
    )
    assert funnel == [
        ("NEW", 2, 2, 2, 0, 1.0, 0.0417),  # both left NEW after an hour
        ("PREPARATION", 2, 1, 2, 1, 1.0, 2.0),  # the quick deal skipped it
        ("PREPAYMENT_INVOICE", 2, 0, 1, 0, 0.5, None),
        ("EXECUTING", 2, 0, 1, 0, 1.0, None),
        ("FINAL_INVOICE", 2, 0, 1, 0, 1.0, None),
        ("WON", 2, 1, 1, 0, 1.0, None),
        ("LOSE", 2, 1, 1, 0, None, None),
        ("APOLOGY", 2, 0, 0, 0, None, None),
    ]
    assert portal.rows(
        "select loss_month, lost_from_stage_id, loss_stage_id, loss_reason, lost_deals,"
        " lost_amount from marts.mart_deal_losses"
    ) == [(date(2024, 5, 1), "PREPARATION", "LOSE", "Сделка провалена", 1, Decimal("900.00"))]


def test_a_deal_moved_to_another_funnel_counts_in_the_funnel_it_is_in_now(portal):
    wholesale = portal.funnel("Опт")
    portal.at("2024-05-10T10:00:00+03:00")
    order = portal.item(2, title="Оптовый заказ", opportunity=50000)
    portal.sync()
    portal.at("2024-05-10T15:00:00+03:00")
    moved = portal.update_item(2, order, categoryId=wholesale,
                               stageId=f"C{wholesale}:PREPARATION")
    assert (moved["categoryId"], moved["stageId"]) == (wholesale, f"C{wholesale}:PREPARATION")
    portal.at("2024-05-12T10:00:00+03:00")
    portal.update_deal(order, STAGE_ID=f"C{wholesale}:WON")
    portal.sync()

    assert portal.rows(
        "select pipeline_id, pipeline_name, stage_id, outcome, amount from marts.fct_deals"
    ) == [(wholesale, "Опт", f"C{wholesale}:WON", "won", Decimal("50000.00"))]
    assert portal.rows(
        "select stage_id, next_stage_id, duration_days from marts.fct_stage_intervals"
        " where entity = 'deal' order by entered_at"
    ) == [
        ("NEW", f"C{wholesale}:PREPARATION", 0.2083),  # 5 hours
        (f"C{wholesale}:PREPARATION", f"C{wholesale}:WON", 1.7917),  # 43 hours
        (f"C{wholesale}:WON", None, None),
    ]
    funnel = portal.rows(
        "select pipeline_id, stage_id, cohort_size, entered, reached"
        " from marts.mart_funnel_conversion where entity = 'deal' and semantic_id <> 'F'"
        " order by pipeline_id, stage_position"
    )
    assert funnel == [
        (wholesale, f"C{wholesale}:NEW", 1, 0, 1),
        (wholesale, f"C{wholesale}:PREPARATION", 1, 1, 1),
        (wholesale, f"C{wholesale}:PREPAYMENT_INVOICE", 1, 0, 1),
        (wholesale, f"C{wholesale}:EXECUTING", 1, 0, 1),
        (wholesale, f"C{wholesale}:FINAL_INVOICE", 1, 0, 1),
        (wholesale, f"C{wholesale}:WON", 1, 1, 1),
    ]
