"""Stories about what the warehouse remembers: a pipeline installed on a new, empty portal, and a
deal whose amount grows between syncs (cross-sell, «допродажа»)."""

from datetime import date
from decimal import Decimal


def test_a_pipeline_installed_before_the_first_deal_still_knows_amounts_at_creation(portal):
    # Regression: the incremental summary of deal versions had a NULL look-back on a warehouse
    # whose first build had no deals, and never summarised a deal again.
    anna = portal.manager("Анна Смирнова")
    portal.at("2024-04-22T09:00:00+03:00")
    portal.sync()  # a new portal: nothing yet
    assert portal.value("select count(*) from marts.fct_deals") == 0
    assert portal.value("select count(*) from marts.fct_leads") == 0
    assert portal.value("select count(*) from marts.mart_data_quality") == 11

    portal.at("2024-04-22T10:00:00+03:00")
    bumper = portal.deal(TITLE="Бампер Kia Rio", OPPORTUNITY=1500, ASSIGNED_BY_ID=anna)
    portal.sync()  # sees the bumper deal as it was created

    portal.at("2024-04-22T12:00:00+03:00")
    portal.update_deal(bumper, OPPORTUNITY=4000)  # the grille is added to the order
    grille = portal.deal(TITLE="Решётка", OPPORTUNITY=1000, ASSIGNED_BY_ID=anna)
    portal.at("2024-04-22T12:30:00+03:00")
    portal.update_deal(grille, OPPORTUNITY=1200)  # changed before any sync saw it
    portal.sync()

    portal.at("2024-04-24T15:00:00+03:00")
    portal.update_deal(bumper, STAGE_ID="WON")
    portal.update_deal(grille, STAGE_ID="WON")
    portal.sync()

    assert portal.rows(
        "select deal_id, amount_at_creation, amount_at_close, uplift, has_uplift,"
        " is_history_complete from marts.mart_cross_sell order by deal_id"
    ) == [
        (bumper, Decimal("1500.00"), Decimal("4000.00"), Decimal("2500.00"), True, True),
        # first seen at 1,200 after an edit: the amount at creation is unknown, and says so
        (grille, None, Decimal("1200.00"), None, None, False),
    ]
    # created Apr 22 10:00, won Apr 24 15:00: 53 hours
    assert portal.value(f"select days_to_close from marts.fct_deals where deal_id = {bumper}") \
        == 2.21
    assert portal.value("select sum(amount) from marts.fct_deals where outcome = 'won'") == 5200
    assert portal.rows(
        "select month, manager_id, deals_won, revenue, average_check"
        " from marts.mart_manager_performance"
    ) == [(date(2024, 4, 1), anna, 2, Decimal("5200.00"), Decimal("2600.00"))]
