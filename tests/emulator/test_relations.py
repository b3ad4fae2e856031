"""Contacts, companies, a deal's contacts, activities and product rows, as the documented
methods answer them."""

import pytest


def test_contacts_and_companies_have_the_legacy_crud(emulator):
    company = emulator.call("crm.company.add", {"fields": {"TITLE": "ООО Запчасти"}})["result"]
    contact = emulator.call("crm.contact.add", {"fields": {
        "NAME": "Иван", "LAST_NAME": "Петров", "COMPANY_ID": company,
        "PHONE": [{"VALUE": "+79990001122", "VALUE_TYPE": "MOBILE"}]}})["result"]
    got = emulator.call("crm.contact.get", {"id": contact})["result"]
    assert got["NAME"] == "Иван" and got["COMPANY_ID"] == str(company) and got["HAS_PHONE"] == "Y"
    assert got["DATE_CREATE"] == got["DATE_MODIFY"] != ""
    emulator.control("POST", "clock", {"advance_seconds": 5})
    emulator.call("crm.contact.update", {"id": contact, "fields": {"NAME": "Иван Иванович"}})
    listed = emulator.call("crm.contact.list", {"filter": {">DATE_MODIFY": got["DATE_MODIFY"]},
                                                "select": ["ID", "NAME"]})
    assert listed["result"] == [{"ID": str(contact), "NAME": "Иван Иванович"}]
    assert emulator.call("crm.company.list")["total"] == 1
    assert "TITLE" in emulator.call("crm.company.fields")["result"]
    assert emulator.call("crm.contact.delete", {"id": contact})["result"] is True
    assert emulator.post("crm.contact.get", {"id": contact}).json()["error_description"] == (
        "Not found")


def test_deal_contact_items_list_the_deals_contacts_first_one_primary(emulator):
    a = emulator.call("crm.contact.add", {"fields": {"NAME": "A"}})["result"]
    b = emulator.call("crm.contact.add", {"fields": {"NAME": "B"}})["result"]
    deal = emulator.call("crm.deal.add", {"fields": {"CONTACT_IDS": [b, a]}})["result"]
    items = emulator.call("crm.deal.contact.items.get", {"id": deal})["result"]
    assert items == [{"CONTACT_ID": b, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"},
                     {"CONTACT_ID": a, "SORT": 20, "ROLE_ID": 0, "IS_PRIMARY": "N"}]


def test_activities_are_added_listed_by_owner_and_completed(emulator):
    emulator.control("POST", "clock", {"set": "2024-04-23T10:00:00+03:00", "frozen": True})
    lead = emulator.call("crm.lead.add", {"fields": {"TITLE": "x"}})["result"]
    call = emulator.call("crm.activity.add", {"fields": {
        "OWNER_TYPE_ID": 1, "OWNER_ID": lead, "TYPE_ID": 2, "PROVIDER_ID": "VOXIMPLANT_CALL",
        "SUBJECT": "Входящий звонок", "DIRECTION": 1, "RESPONSIBLE_ID": 7}})["result"]
    row = emulator.call("crm.activity.list", {"filter": {"OWNER_TYPE_ID": 1, "OWNER_ID": lead}}
                        )["result"]
    assert [r["ID"] for r in row] == [str(call)]
    assert row[0]["RESPONSIBLE_ID"] == "7" and row[0]["STATUS"] == "1"
    assert row[0]["CREATED"] == "2024-04-23T10:00:00+03:00" and row[0]["COMPLETED"] == "N"
    emulator.control("POST", "clock", {"advance_seconds": 60})
    emulator.call("crm.activity.update", {"id": call, "fields": {"COMPLETED": "Y"}})
    done = emulator.call("crm.activity.get", {"id": call})["result"]
    assert done["STATUS"] == "2" and done["LAST_UPDATED"] == "2024-04-23T10:01:00+03:00"
    newer = emulator.call("crm.activity.list", {
        "filter": {">=LAST_UPDATED": "2024-04-23T10:00:30+03:00"}})["result"]
    assert [r["ID"] for r in newer] == [str(call)]


def test_an_activity_needs_an_existing_owner(emulator):
    r = emulator.post("crm.activity.add", {"fields": {"OWNER_TYPE_ID": 2, "OWNER_ID": 404,
                                                      "TYPE_ID": 2}})
    assert r.status_code == 400 and "owner" in r.json()["error_description"]


def test_product_rows_replace_and_recompute_the_amount_and_move_date_modify(emulator):
    emulator.control("POST", "clock", {"set": "2024-04-23T10:00:00+03:00", "frozen": True})
    deal = emulator.call("crm.deal.add", {"fields": {"OPPORTUNITY": 100}})["result"]
    emulator.control("POST", "clock", {"advance_seconds": 60})
    emulator.call("crm.deal.productrows.set", {"id": deal, "rows": [
        {"PRODUCT_ID": 11, "PRODUCT_NAME": "Бампер", "PRICE": 4500, "QUANTITY": 1},
        {"PRODUCT_ID": 12, "PRODUCT_NAME": "Фара", "PRICE": 2750.5, "QUANTITY": 2}]})
    got = emulator.call("crm.deal.get", {"id": deal})["result"]
    assert got["OPPORTUNITY"] == "10001.00"
    assert got["DATE_MODIFY"] == "2024-04-23T10:01:00+03:00"
    rows = emulator.call("crm.deal.productrows.get", {"id": deal})["result"]
    assert [(r["PRODUCT_NAME"], r["PRICE"], r["QUANTITY"], r["OWNER_TYPE"]) for r in rows] == [
        ("Бампер", 4500.0, 1.0, "D"), ("Фара", 2750.5, 2.0, "D")]
    assert rows[0]["OWNER_ID"] == str(deal) and isinstance(rows[0]["ID"], str)
    emulator.call("crm.deal.productrows.set", {"id": deal, "rows": [
        {"PRODUCT_ID": 13, "PRODUCT_NAME": "Решётка", "PRICE": 3000}]})
    assert [r["PRODUCT_NAME"] for r in emulator.call(
        "crm.deal.productrows.get", {"id": deal})["result"]] == ["Решётка"]


def test_a_manual_amount_is_kept_when_rows_change(emulator):
    deal = emulator.call("crm.deal.add", {"fields": {"OPPORTUNITY": 5000,
                                                     "IS_MANUAL_OPPORTUNITY": "Y"}})["result"]
    emulator.call("crm.deal.productrows.set", {"id": deal, "rows": [{"PRICE": 10}]})
    assert emulator.call("crm.deal.get", {"id": deal})["result"]["OPPORTUNITY"] == "5000.00"


def test_item_productrow_list_reads_many_owners_in_camel_case_and_needs_its_filter(emulator):
    deals = [emulator.call("crm.deal.add", {"fields": {}})["result"] for _ in range(3)]
    for i, deal in enumerate(deals):
        emulator.call("crm.deal.productrows.set", {"id": deal, "rows": [
            {"PRODUCT_NAME": f"p{i}-{j}", "PRICE": 100 * (j + 1)} for j in range(30)]})
    body = emulator.call("crm.item.productrow.list", {
        "filter": {"=ownerType": "D", "=ownerId": deals[:2], ">id": 0}, "order": {"id": "ASC"},
        "start": -1})
    rows = body["result"]["productRows"]
    assert len(rows) == 50 and rows[0]["ownerId"] == deals[0] and isinstance(rows[0]["id"], int)
    assert {r["ownerType"] for r in rows} == {"D"} and rows[0]["productName"] == "p0-0"
    rest = emulator.call("crm.item.productrow.list", {
        "filter": {"=ownerType": "D", "=ownerId": deals[:2], ">id": rows[-1]["id"]},
        "order": {"id": "ASC"}, "start": -1})["result"]["productRows"]
    assert len(rest) == 10 and {r["ownerId"] for r in rest} == {deals[1]}
    missing = emulator.post("crm.item.productrow.list", {"filter": {"=ownerType": "D"}})
    assert missing.status_code == 400 and missing.json()["error"] == "100"


@pytest.mark.parametrize("kind", ["deal", "lead"])
def test_a_deleted_record_takes_its_activities_and_rows_along_and_a_restore_brings_them(
    emulator, kind
):
    owner = emulator.call(f"crm.{kind}.add", {"fields": {}})["result"]
    owner_type = {"lead": 1, "deal": 2}[kind]
    emulator.call("crm.activity.add", {"fields": {"OWNER_TYPE_ID": owner_type, "OWNER_ID": owner,
                                                  "TYPE_ID": 2}})
    emulator.call(f"crm.{kind}.productrows.set", {"id": owner, "rows": [{"PRICE": 5}]})
    emulator.call(f"crm.{kind}.delete", {"id": owner})
    assert emulator.call("crm.activity.list")["total"] == 0
    emulator.control("POST", f"recyclebin/{kind}/{owner}")
    assert emulator.call("crm.activity.list")["total"] == 1
    assert len(emulator.call(f"crm.{kind}.productrows.get", {"id": owner})["result"]) == 1
