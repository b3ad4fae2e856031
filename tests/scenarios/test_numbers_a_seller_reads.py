"""Stories about the numbers a seller reads first, written through the REST write API: when a
lead was really answered, revenue in one currency, and people, funnels and stages by name as
the portal names them now. Every expected figure is worked out by hand in the comments."""

from datetime import date
from decimal import Decimal

from tests.scenarios.portal import Portal


def _activity(portal: Portal, lead: int, manager: int, **fields) -> int:
    return int(portal.call("crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 1, "OWNER_ID": lead, "TYPE_ID": 2, "PROVIDER_ID": "VOXIMPLANT_CALL",
        "RESPONSIBLE_ID": manager, **fields}}))


def test_only_an_answer_that_happened_takes_a_lead_up_and_at_the_time_it_happened(portal):
    anna, boris = portal.manager("Анна Смирнова"), portal.manager("Борис Орлов")
    portal.at("2024-04-22T10:00:00+03:00")
    planned = portal.lead(TITLE="Перезвонить завтра", ASSIGNED_BY_ID=anna)
    logged = portal.lead(TITLE="Звонок внесён позже", ASSIGNED_BY_ID=anna)
    incoming = portal.lead(TITLE="Входящий звонок", ASSIGNED_BY_ID=boris)
    portal.at("2024-04-22T10:03:00+03:00")
    # Anna schedules a callback for tomorrow: a planned call, no answer.
    callback = _activity(portal, planned, anna, SUBJECT="Перезвонить", DIRECTION=2,
                         START_TIME="2024-04-23T10:00:00+03:00", COMPLETED="N")
    # The incoming call that created Boris's lead began a minute before the lead existed.
    _activity(portal, incoming, boris, SUBJECT="Входящий звонок", DIRECTION=1, COMPLETED="Y",
              START_TIME="2024-04-22T09:59:00+03:00", END_TIME="2024-04-22T10:02:00+03:00")
    portal.at("2024-04-22T10:40:00+03:00")
    # Boris logs at 10:40 the call he made on Anna's lead at 10:05.
    _activity(portal, logged, boris, SUBJECT="Исходящий звонок", DIRECTION=2, COMPLETED="Y",
              START_TIME="2024-04-22T10:05:00+03:00", END_TIME="2024-04-22T10:08:00+03:00")
    portal.at("2024-04-22T10:45:00+03:00")
    portal.sync()

    # planned: not taken up (the callback is tomorrow and not made); logged: answered at 10:05
    # by Boris, 5 minutes, in time; incoming: answered at its creation, 0 minutes.
    taken = ("select lead_id, answered_by_manager_id, take_up_minutes, is_taken_up_in_time"
             " from marts.fct_leads order by lead_id")
    assert portal.rows(taken) == [
        (planned, None, None, False),
        (logged, boris, Decimal("5.0"), True),
        (incoming, boris, Decimal("0.0"), True),
    ]
    daily = ("select manager_id, leads, leads_taken_up, leads_taken_up_in_time,"
             " take_up_in_time_rate from marts.mart_lead_take_up_daily order by manager_id")
    # Anna: 2 leads, 1 taken up, in time: 50 %, not the 100 % a planned call would make it.
    assert portal.rows(daily) == [(anna, 2, 1, 1, 0.5), (boris, 1, 1, 1, 1.0)]

    # The next day at 10:00 Anna makes the call: taken up after 24 h = 1,440 minutes, late.
    portal.at("2024-04-23T10:20:00+03:00")
    portal.call("crm.activity.update", {"id": callback, "fields": {"COMPLETED": "Y"}})
    portal.sync()
    assert portal.rows(taken)[0] == (planned, anna, Decimal("1440.0"), False)
    assert portal.rows(daily) == [(anna, 2, 2, 1, 0.5), (boris, 1, 1, 1, 1.0)]


def _set_rate(portal: Portal, currency: str, amount: str) -> None:
    portal.call("crm.currency.update", {"id": currency, "fields": {"AMOUNT": amount}})


def test_dollars_convert_to_roubles_at_the_rate_of_the_moment_the_deal_was_read(portal):
    anna, boris = portal.manager("Анна Смирнова"), portal.manager("Борис Орлов")
    portal.at("2024-04-10T09:00:00+03:00")
    _set_rate(portal, "USD", "90")
    first = portal.lead(TITLE="Бампер", SOURCE_ID="WEB", UTM_SOURCE="123456", ASSIGNED_BY_ID=anna)
    second = portal.lead(TITLE="Фара", SOURCE_ID="WEB", UTM_SOURCE="777777", ASSIGNED_BY_ID=anna)
    portal.at("2024-04-10T10:00:00+03:00")
    in_dollars = portal.item(2, title="Бампер в долларах", leadId=first, opportunity=100,
                             currencyId="USD", assignedById=anna)
    in_roubles = portal.item(2, title="Фара", leadId=second, opportunity=5000, currencyId="RUB",
                             assignedById=anna)
    # the Avito robot's deal: no lead, the ad ID in its own UTM_SOURCE, $50
    robot = portal.deal(TITLE="Авито: решётка", UTM_SOURCE="123456", OPPORTUNITY=50,
                        CURRENCY_ID="USD", ASSIGNED_BY_ID=boris)
    portal.at("2024-04-10T11:00:00+03:00")
    for deal in (in_dollars, in_roubles, robot):
        portal.update_deal(deal, STAGE_ID="WON")
    portal.at("2024-04-10T11:05:00+03:00")
    portal.sync()

    # $100 at 90 ₽ = 9,000 ₽; $50 = 4,500 ₽; 5,000 ₽ stays.
    deals = ("select deal_id, amount, amount_original, currency, exchange_rate, base_currency"
             " from marts.fct_deals order by deal_id")
    assert portal.rows(deals) == [
        (in_dollars, Decimal("9000.00"), Decimal("100.00"), "USD", Decimal("90"), "RUB"),
        (in_roubles, Decimal("5000.00"), Decimal("5000.00"), "RUB", Decimal("1"), "RUB"),
        (robot, Decimal("4500.00"), Decimal("50.00"), "USD", Decimal("90"), "RUB"),
    ]
    by_manager = ("select manager_id, revenue from marts.mart_manager_performance"
                  " where revenue > 0 order by manager_id")
    by_ad = "select ad_id, revenue from marts.mart_ad_performance order by ad_id"
    by_source = "select sum(revenue) from marts.mart_lead_sources_daily"
    # Anna: 9,000 + 5,000; Boris: 4,500. Ad 123456: her 9,000 + the robot's 4,500.
    assert portal.rows(by_manager) == [(anna, Decimal("14000.00")), (boris, Decimal("4500.00"))]
    assert portal.rows(by_ad) == [("123456", Decimal("13500.00")), ("777777", Decimal("5000.00"))]
    assert portal.value(by_source) == Decimal("18500.00")

    # The dollar rises to 100 ₽ the next day: what was read stays at 90 ₽ ...
    portal.at("2024-04-11T09:00:00+03:00")
    _set_rate(portal, "USD", "100")
    portal.sync()
    assert portal.rows(by_manager) == [(anna, Decimal("14000.00")), (boris, Decimal("4500.00"))]
    # ... and a deal edited after it is read again at 100 ₽: the robot's $50 = 5,000 ₽ now,
    # while its amount at close stays that of the version that closed it (4,500 ₽).
    portal.at("2024-04-11T10:00:00+03:00")
    portal.update_deal(robot, TITLE="Авито: решётка радиатора")
    portal.sync()
    assert portal.rows(
        "select amount, amount_at_close, exchange_rate from marts.fct_deals"
        f" where deal_id = {robot}"
    ) == [(Decimal("5000.00"), Decimal("4500.00"), Decimal("100"))]
    assert portal.rows(by_manager) == [(anna, Decimal("14000.00")), (boris, Decimal("5000.00"))]
    assert portal.rows(by_ad) == [("123456", Decimal("14000.00")), ("777777", Decimal("5000.00"))]
    assert portal.value(by_source) == Decimal("19000.00")


def test_a_portal_that_keeps_its_books_in_dollars(portal):
    anna = portal.manager("Анна Смирнова")
    portal.at("2024-04-10T10:00:00+03:00")
    _set_rate(portal, "USD", "90")
    early = portal.deal(TITLE="Бампер", OPPORTUNITY=9000, CURRENCY_ID="RUB", ASSIGNED_BY_ID=anna)
    portal.update_deal(early, STAGE_ID="WON")
    portal.sync()
    assert portal.value("select sum(amount) from marts.fct_deals where outcome = 'won'") == (
        Decimal("9000.00"))

    # The company moves its books to dollars: the base is USD, a rouble costs $0.0125 (80 ₽).
    portal.at("2024-04-20T10:00:00+03:00")
    portal.call("crm.currency.base.set", {"id": "USD"})
    _set_rate(portal, "USD", "1")
    _set_rate(portal, "RUB", "0.0125")
    _set_rate(portal, "EUR", "1.08")
    late = portal.deal(TITLE="Фара", OPPORTUNITY=8000, CURRENCY_ID="RUB", ASSIGNED_BY_ID=anna)
    euro = portal.deal(TITLE="Решётка", OPPORTUNITY=250, CURRENCY_ID="EUR", ASSIGNED_BY_ID=anna)
    for deal in (late, euro):
        portal.update_deal(deal, STAGE_ID="WON")
    portal.sync()

    # Every amount in dollars now. The early deal was read when a dollar cost 90 ₽: 9,000 ₽ =
    # $100 at that moment's cross rate; 8,000 ₽ at 80 ₽ = $100; €250 × 1.08 = $270.
    assert portal.rows(
        "select deal_id, amount, currency, base_currency from marts.fct_deals order by deal_id"
    ) == [(early, Decimal("100.00"), "RUB", "USD"), (late, Decimal("100.00"), "RUB", "USD"),
          (euro, Decimal("270.00"), "EUR", "USD")]
    assert portal.value("select sum(revenue) from marts.mart_manager_performance") == (
        Decimal("470.00"))


def _status_row(portal: Portal, entity_id: str, status_id: str) -> int:
    rows = portal.call("crm.status.list", {"filter": {"ENTITY_ID": entity_id}})
    return int(next(r["ID"] for r in rows if r["STATUS_ID"] == status_id))


def test_people_funnels_and_stages_are_named_as_the_portal_names_them_now(portal):
    anna, boris = portal.manager("Анна Смирнова"), portal.manager("Борис Орлов")
    portal.call("crm.status.add", {"fields": {
        "ENTITY_ID": "STATUS", "STATUS_ID": "UC_CALLBACK", "NAME": "Перезвонить", "SORT": 15}})
    wholesale = portal.funnel("Опт")
    portal.at("2024-04-22T10:00:00+03:00")
    lead = portal.lead(TITLE="Бампер", ASSIGNED_BY_ID=anna)
    deal = portal.item(2, title="Опт: бамперы", categoryId=wholesale, assignedById=anna)
    portal.at("2024-04-22T10:05:00+03:00")
    portal.update_lead(lead, STATUS_ID="UC_CALLBACK")
    portal.at("2024-04-22T10:10:00+03:00")
    portal.update_lead(lead, STATUS_ID="IN_PROCESS")
    portal.at("2024-04-22T10:15:00+03:00")
    portal.sync()

    stage_day = ("select stage_name from marts.mart_stage_activity_daily"
                 " where stage_id = 'UC_CALLBACK'")
    funnel_stages = ("select count(*) from marts.mart_funnel_conversion"
                     " where stage_id = 'UC_CALLBACK'")
    assert portal.value(stage_day) == "Перезвонить"
    assert portal.value(funnel_stages) == 1
    assert portal.rows("select pipeline_name, current_manager_name, credited_manager_name"
                       " from marts.fct_deals") == [("Опт", "Анна Смирнова", "Анна Смирнова")]

    # The stage and the funnel are renamed, Anna leaves the company and her deal goes to Boris.
    portal.at("2024-04-23T09:00:00+03:00")
    callback = _status_row(portal, "STATUS", "UC_CALLBACK")
    portal.call("crm.status.update", {"id": callback, "fields": {"NAME": "Обратный звонок"}})
    portal.call("crm.category.update", {"entityTypeId": 2, "id": wholesale,
                                        "fields": {"name": "Оптовые продажи"}})
    portal.update_deal(deal, ASSIGNED_BY_ID=boris)
    portal.call("user.update", {"ID": anna, "ACTIVE": "N"})
    portal.sync()
    assert portal.value(stage_day) == "Обратный звонок"
    assert portal.rows("select pipeline_name, current_manager_name from marts.fct_deals") == [
        ("Оптовые продажи", "Борис Орлов")]
    # Anna keeps her lead, her name and her history, marked dismissed.
    assert portal.rows("select manager_name, employment_status, leads_taken"
                       " from marts.mart_manager_performance where manager_id = " + str(anna)
                       ) == [("Анна Смирнова", "dismissed", 1)]
    assert portal.rows("select manager_name, is_active from marts.dim_managers"
                       f" where manager_id = {anna}") == [("Анна Смирнова", False)]
    assert portal.rows("select manager_name from marts.mart_lead_take_up_daily") == [
        ("Анна Смирнова",)]

    # The stage is removed: the day the lead passed it keeps its last name, and the funnel no
    # longer lists it as a step.
    portal.at("2024-04-24T09:00:00+03:00")
    portal.call("crm.status.delete", {"id": callback})
    portal.sync()
    assert portal.value(stage_day) == "Обратный звонок"
    assert portal.value(funnel_stages) == 0


def test_a_deal_won_and_then_reopened_is_won_nowhere(portal):
    anna = portal.manager("Анна Смирнова")
    portal.at("2024-04-22T10:00:00+03:00")
    lead = portal.lead(TITLE="Бампер", SOURCE_ID="WEB", UTM_SOURCE="123456", ASSIGNED_BY_ID=anna)
    deal = portal.item(2, title="Бампер Kia", leadId=lead, assignedById=anna)
    portal.call("crm.deal.productrows.set", {"id": deal, "rows": [
        {"PRODUCT_ID": 11, "PRODUCT_NAME": "Бампер передний", "PRICE": 7000}]})
    portal.at("2024-04-23T10:00:00+03:00")
    portal.update_deal(deal, STAGE_ID="WON")
    portal.at("2024-04-23T10:05:00+03:00")
    portal.sync()

    won = {
        "fct_deals": "select count(*) from marts.fct_deals where outcome = 'won'",
        "revenue": "select coalesce(sum(amount), 0) from marts.fct_deals where is_revenue",
        "fct_leads": "select sum(deals_won) from marts.fct_leads",
        "managers": "select sum(deals_won) from marts.mart_manager_performance",
        "sources": "select sum(deals_won) from marts.mart_lead_sources_daily",
        "top sources": "select coalesce(sum(revenue), 0) from marts.mart_top_sources_monthly",
        "ads": "select sum(deals_won) from marts.mart_ad_performance",
        "funnel": "select sum(reached) from marts.mart_funnel_conversion"
                  " where entity = 'deal' and semantic_id = 'S'",
        "cross-sell": "select count(*) from marts.mart_cross_sell",
        "products": "select coalesce(sum(deals_won), 0) from marts.mart_product_sales",
        "attribution": "select count(distinct deal_id) from marts.mart_attribution",
    }
    assert {name: portal.value(sql) for name, sql in won.items()} == {
        "fct_deals": 1, "revenue": Decimal("7000.00"), "fct_leads": 1, "managers": 1,
        "sources": 1, "top sources": Decimal("7000.00"), "ads": 1, "funnel": 1,
        "cross-sell": 1, "products": 1, "attribution": 1}

    # The customer backs out the next day: the deal is reopened.
    portal.at("2024-04-24T10:00:00+03:00")
    portal.update_deal(deal, STAGE_ID="PREPARATION")
    portal.sync()
    assert {name: portal.value(sql) for name, sql in won.items()} == {
        "fct_deals": 0, "revenue": Decimal("0"), "fct_leads": 0, "managers": 0,
        "sources": 0, "top sources": Decimal("0"), "ads": 0, "funnel": 0,
        "cross-sell": 0, "products": 0, "attribution": 0}
    assert portal.rows("select outcome, amount_at_close from marts.fct_deals") == [("open", None)]
    assert portal.rows("select leads_taken, deals_won from marts.mart_manager_performance"
                       " where month = date '2024-04-01'") == [(1, 0)]
    assert portal.rows("select month from marts.mart_manager_performance") == [
        (date(2024, 4, 1),)]
