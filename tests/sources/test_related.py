"""Contacts, activities and product rows: loaded in full, then incrementally, with no change
lost and nothing read twice into the current tables."""

import json
from decimal import Decimal

from tests.warehouse import scalar, sync, table


def _products(warehouse) -> dict[int, list]:
    return {r["deal_id"]: json.loads(r["product_rows"]) if isinstance(r["product_rows"], str)
            else r["product_rows"] for r in table(warehouse, "deal_products", order="deal_id")}


def test_a_full_load_holds_every_contact_activity_and_deals_product_rows(warehouse, demo):
    sync(warehouse)
    assert scalar(warehouse, "select count(*) from bitrix_raw.contacts") == demo.call(
        "crm.contact.list", {"start": 0})["total"]
    assert scalar(warehouse, "select count(*) from bitrix_raw.activities") == demo.call(
        "crm.activity.list", {"start": 0})["total"]
    products = _products(warehouse)
    deals = {int(d["ID"]): d for d in demo.records("deal")}
    assert set(products) == set(deals)
    for deal_id, rows in products.items():
        if deals[deal_id]["IS_RECURRING"] == "N":
            total = sum(Decimal(str(r["price"])) * Decimal(str(r["quantity"])) for r in rows)
            assert total == Decimal(deals[deal_id]["OPPORTUNITY"]), deal_id
    call = table(warehouse, "activities")[0]
    assert isinstance(call["owner_id"], int) and call["created"].tzinfo is not None


def test_changes_to_rows_activities_and_contacts_arrive_on_the_next_pass(warehouse, emulator):
    emulator.control("POST", "clock", {"set": "2024-04-23T10:00:00+03:00", "frozen": True})
    contact = emulator.call("crm.contact.add", {"fields": {"NAME": "Анна"}})["result"]
    deal = emulator.call("crm.deal.add", {"fields": {"CONTACT_ID": contact}})["result"]
    other = emulator.call("crm.deal.add", {"fields": {"OPPORTUNITY": 700}})["result"]
    emulator.call("crm.deal.productrows.set", {"id": deal, "rows": [
        {"PRODUCT_NAME": "Бампер", "PRICE": 4500}, {"PRODUCT_NAME": "Фара", "PRICE": 2000}]})
    task = emulator.call("crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 2, "OWNER_ID": deal, "TYPE_ID": 2, "RESPONSIBLE_ID": 1}})["result"]
    sync(warehouse)
    assert [r["product_name"] for r in _products(warehouse)[deal]] == ["Бампер", "Фара"]
    assert _products(warehouse)[other] == []

    emulator.control("POST", "clock", {"advance_seconds": 600})
    emulator.call("crm.deal.productrows.set", {"id": deal, "rows": []})
    emulator.call("crm.activity.update", {"id": task, "fields": {"COMPLETED": "Y"}})
    emulator.call("crm.contact.update", {"id": contact, "fields": {"TYPE_ID": "SUPPLIER"}})
    emulator.control("DELETE", "stats")
    loaded = sync(warehouse)
    assert _products(warehouse)[deal] == [] and _products(warehouse)[other] == []
    assert loaded["deal_products"] == 1  # only the deal that changed
    assert [(r["id"], r["status"], r["completed"]) for r in table(warehouse, "activities")] == [
        (task, 2, "Y")]
    assert [r["type_id"] for r in table(warehouse, "contacts")] == ["SUPPLIER"]
    assert emulator.stats()["http_requests"] == 2  # the pass, then the changed deal's rows
    # Read again inside the overlap, unchanged: nothing loads twice.
    assert not any(sync(warehouse).values())


def test_an_idle_pass_costs_one_request_with_the_new_lists_too(warehouse, demo):
    sync(warehouse)
    demo.control("DELETE", "stats")
    loaded = sync(warehouse)
    assert demo.stats()["http_requests"] == 1
    assert not loaded.get("deal_products") and not loaded.get("activities")
