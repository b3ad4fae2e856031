"""Stories about what hangs on leads and deals, written through the REST write API
(`crm.activity.add`, `crm.contact.add`, `crm.deal.productrows.set` beside `crm.lead.*` and
`crm.deal.*`): who answered a lead and when, a customer who comes back without the manager
ticking «Повторная сделка», and what a deal sold."""

from datetime import date
from decimal import Decimal


def test_a_lead_is_taken_up_when_a_manager_first_answers_it(portal):
    anna, boris = portal.manager("Анна Смирнова"), portal.manager("Борис Орлов")
    portal.at("2024-04-22T10:00:00+03:00")
    chat = portal.lead(TITLE="Чат Авито", SOURCE_ID="CALL", ASSIGNED_BY_ID=anna)
    late = portal.lead(TITLE="Заявка с сайта", SOURCE_ID="WEB", ASSIGNED_BY_ID=anna)
    portal.at("2024-04-22T10:02:00+03:00")
    # a reminder planned for later is no answer
    portal.call("crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 1, "OWNER_ID": chat, "TYPE_ID": 3, "SUBJECT": "Перезвонить",
        "RESPONSIBLE_ID": anna}})
    portal.at("2024-04-22T10:06:00+03:00")
    portal.call("crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 1, "OWNER_ID": chat, "TYPE_ID": 6, "PROVIDER_ID": "IMOPENLINES_SESSION",
        "SUBJECT": "Чат", "RESPONSIBLE_ID": boris, "COMPLETED": "Y"}})
    portal.at("2024-04-22T10:07:00+03:00")
    portal.sync()
    portal.at("2024-04-22T10:25:00+03:00")
    portal.call("crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 1, "OWNER_ID": late, "TYPE_ID": 2, "PROVIDER_ID": "VOXIMPLANT_CALL",
        "SUBJECT": "Исходящий звонок", "DIRECTION": 2, "RESPONSIBLE_ID": anna,
        "COMPLETED": "Y"}})
    portal.at("2024-04-22T10:40:00+03:00")
    portal.update_lead(late, STATUS_ID="IN_PROCESS")
    portal.at("2024-04-22T10:41:00+03:00")
    portal.sync()

    # The chat: Boris answered it after 6 minutes, in time; it is still Anna's lead. The web
    # lead: Anna called after 25 minutes, before she moved it at 40.
    assert portal.rows(
        "select lead_id, first_manager_id, answered_by_manager_id, take_up_minutes,"
        " is_taken_up_in_time from marts.fct_leads order by lead_id"
    ) == [(chat, anna, boris, Decimal("6.0"), True), (late, anna, anna, Decimal("25.0"), False)]
    assert portal.rows(
        "select lead_date, manager_id, leads, leads_taken_up, leads_taken_up_in_time"
        " from marts.mart_lead_take_up_daily"
    ) == [(date(2024, 4, 22), anna, 2, 2, 1)]


def test_a_returning_customer_makes_a_repeat_deal_without_the_managers_flag(portal):
    anna = portal.manager("Анна Смирнова")
    portal.at("2024-04-01T12:00:00+03:00")
    ivan = int(portal.call("crm.contact.add", {"fields": {"NAME": "Иван", "LAST_NAME": "Петров"}}))
    first = portal.deal(TITLE="Бампер", CONTACT_ID=ivan, OPPORTUNITY=9000, ASSIGNED_BY_ID=anna)
    portal.at("2024-04-02T12:00:00+03:00")
    portal.update_deal(first, STAGE_ID="WON")
    portal.at("2024-05-10T12:00:00+03:00")
    again = portal.deal(TITLE="Фара", CONTACT_ID=ivan, OPPORTUNITY=4000, ASSIGNED_BY_ID=anna)
    stranger = portal.deal(TITLE="Решётка", OPPORTUNITY=3000, ASSIGNED_BY_ID=anna)
    portal.at("2024-05-11T12:00:00+03:00")
    portal.update_deal(again, STAGE_ID="WON")
    portal.update_deal(stranger, STAGE_ID="WON")
    portal.at("2024-05-11T12:05:00+03:00")
    portal.sync()

    assert portal.rows(
        "select deal_id, contact_id, contact_deal_number, is_repeat_customer, is_repeat"
        " from marts.fct_deals order by deal_id"
    ) == [(first, ivan, 1, False, False), (again, ivan, 2, False, True),
          (stranger, None, None, False, False)]
    # May: two deals won, Ivan's is a repeat one; new + repeat = all.
    assert portal.rows(
        "select month, deals_won, new_deals_won, repeat_deals_won, revenue, repeat_revenue"
        " from marts.mart_manager_performance where deals_won > 0 order by month"
    ) == [(date(2024, 4, 1), 1, 1, 0, Decimal("9000.00"), Decimal("0.00")),
          (date(2024, 5, 1), 2, 1, 1, Decimal("7000.00"), Decimal("4000.00"))]


def test_what_a_deal_sold_follows_its_product_rows_and_their_changes(portal):
    portal.at("2024-04-22T10:00:00+03:00")
    bumper = portal.deal(TITLE="Бампер Kia Rio")  # the amount follows the rows set with it
    portal.call("crm.deal.productrows.set", {"id": bumper, "rows": [
        {"PRODUCT_ID": 11, "PRODUCT_NAME": "Бампер передний", "PRICE": 9000}]})
    portal.at("2024-04-22T10:05:00+03:00")
    portal.sync()
    assert portal.rows("select deal_id, amount from marts.fct_deals") == [
        (bumper, Decimal("9000.00"))]
    # Before closing, the customer adds two fog lights (cross-sell), then the deal is won.
    portal.at("2024-04-23T11:00:00+03:00")
    portal.call("crm.deal.productrows.set", {"id": bumper, "rows": [
        {"PRODUCT_ID": 11, "PRODUCT_NAME": "Бампер передний", "PRICE": 9000},
        {"PRODUCT_ID": 12, "PRODUCT_NAME": "Противотуманная фара", "PRICE": 2500,
         "QUANTITY": 2}]})
    portal.at("2024-04-23T12:00:00+03:00")
    portal.update_deal(bumper, STAGE_ID="WON")
    portal.at("2024-04-23T12:05:00+03:00")
    portal.sync()

    assert portal.rows(
        "select deal_id, amount_at_creation, amount_at_close, uplift, product_lines,"
        " products_amount from marts.mart_cross_sell"
    ) == [(bumper, Decimal("9000.00"), Decimal("14000.00"), Decimal("5000.00"), 2,
           Decimal("14000.00"))]
    assert portal.rows(
        "select closed_month, product_id, product_name, deals_won, quantity, revenue"
        " from marts.mart_product_sales order by product_id"
    ) == [(date(2024, 4, 1), 11, "Бампер передний", 1, Decimal("1.000"), Decimal("9000.00")),
          (date(2024, 4, 1), 12, "Противотуманная фара", 1, Decimal("2.000"),
           Decimal("5000.00"))]
    # The lights are returned after the sale: the rows go back to the bumper alone.
    portal.at("2024-04-25T09:00:00+03:00")
    portal.call("crm.deal.productrows.set", {"id": bumper, "rows": [
        {"PRODUCT_ID": 11, "PRODUCT_NAME": "Бампер передний", "PRICE": 9000}]})
    portal.at("2024-04-25T09:05:00+03:00")
    portal.sync()
    assert portal.rows("select product_id, revenue from marts.mart_product_sales") == [
        (11, Decimal("9000.00"))]
    assert portal.rows("select sum(amount) from marts.fct_deals where outcome = 'won'") == [
        (Decimal("9000.00"),)]
