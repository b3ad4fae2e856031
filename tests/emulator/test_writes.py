"""Writes with a portal's server-side effects: dates, authors, semantics, stage history."""


def _freeze(emulator, at="2024-05-01T10:00:00+03:00"):
    emulator.control("POST", "clock", {"set": at, "frozen": True})


def test_lead_add_sets_server_fields_and_writes_a_created_history_row(emulator):
    _freeze(emulator)
    lead_id = emulator.call("crm.lead.add", {"fields": {
        "TITLE": "Бампер Kia Rio", "OPPORTUNITY": "1500", "DATE_CREATE": "2000-01-01",
        "STATUS_SEMANTIC_ID": "S", "NOT_A_FIELD": 1,
        "PHONE": [{"VALUE": "+7 900 000-00-00", "VALUE_TYPE": "WORK"}]}})["result"]
    assert isinstance(lead_id, int)
    lead = emulator.call("crm.lead.get", {"id": lead_id})["result"]
    assert lead["DATE_CREATE"] == lead["DATE_MODIFY"] == lead["MOVED_TIME"] == (
        "2024-05-01T10:00:00+03:00")
    assert lead["STATUS_ID"] == "NEW" and lead["STATUS_SEMANTIC_ID"] == "P"
    assert lead["CREATED_BY_ID"] == lead["ASSIGNED_BY_ID"] == "1"
    assert lead["OPPORTUNITY"] == "1500.00" and lead["HAS_PHONE"] == "Y"
    assert lead["PHONE"][0]["VALUE"] == "+7 900 000-00-00"
    assert "NOT_A_FIELD" not in lead
    history = emulator.call("crm.stagehistory.list", {"entityTypeId": 1})["result"]["items"]
    assert [(h["TYPE_ID"], h["OWNER_ID"], h["STATUS_ID"]) for h in history] == [
        (1, lead_id, "NEW")]


def test_lead_update_moves_stage_and_records_semantics_and_history(emulator):
    _freeze(emulator)
    lead_id = emulator.call("crm.lead.add", {"fields": {"TITLE": "x"}})["result"]
    emulator.control("POST", "clock", {"advance_seconds": 60})
    emulator.call("crm.lead.update", {"id": lead_id, "fields": {"STATUS_ID": "IN_PROCESS"}})
    emulator.control("POST", "clock", {"advance_seconds": 60})
    emulator.call("crm.lead.update", {"id": lead_id, "fields": {"STATUS_ID": "CONVERTED"}})
    emulator.control("POST", "clock", {"advance_seconds": 60})
    emulator.call("crm.lead.update", {"id": lead_id, "fields": {"ASSIGNED_BY_ID": 5}})
    lead = emulator.call("crm.lead.get", {"id": lead_id})["result"]
    assert lead["STATUS_SEMANTIC_ID"] == "S"
    assert lead["MOVED_TIME"] == lead["DATE_CLOSED"] == "2024-05-01T10:02:00+03:00"
    assert lead["DATE_MODIFY"] == "2024-05-01T10:03:00+03:00"
    assert lead["ASSIGNED_BY_ID"] == "5"
    history = emulator.call("crm.stagehistory.list", {"entityTypeId": 1})["result"]["items"]
    assert [(h["TYPE_ID"], h["STATUS_ID"], h["STATUS_SEMANTIC_ID"]) for h in history] == [
        (1, "NEW", "P"), (2, "IN_PROCESS", "P"), (3, "CONVERTED", "S")]


def test_deal_stages_follow_the_funnel_dictionary(demo):
    deal_id = demo.call("crm.deal.add", {"fields": {"TITLE": "Опт", "CATEGORY_ID": 1,
                                                    "OPPORTUNITY": 250000}})["result"]
    deal = demo.call("crm.deal.get", {"id": deal_id})["result"]
    assert deal["STAGE_ID"] == "C1:NEW" and deal["IS_NEW"] == "Y" and deal["CLOSED"] == "N"
    demo.call("crm.deal.update", {"id": deal_id, "fields": {"STAGE_ID": "C1:WON",
                                                            "CATEGORY_ID": 0}})
    deal = demo.call("crm.deal.get", {"id": deal_id})["result"]
    assert deal["STAGE_SEMANTIC_ID"] == "S" and deal["CLOSED"] == "Y"
    assert deal["CATEGORY_ID"] == "1"  # immutable through crm.deal.update
    rows = demo.call("crm.stagehistory.list", {"entityTypeId": 2,
                                               "filter": {"OWNER_ID": deal_id}})["result"]["items"]
    assert [(r["TYPE_ID"], r["CATEGORY_ID"], r["STAGE_ID"]) for r in rows] == [
        (1, 1, "C1:NEW"), (3, 1, "C1:WON")]


def test_deal_in_an_unknown_funnel_is_refused(emulator):
    r = emulator.post("crm.deal.add", {"fields": {"TITLE": "x", "CATEGORY_ID": 9}})
    assert r.status_code == 400 and "Category" in r.json()["error_description"]


def test_update_of_a_missing_record_answers_not_found(emulator):
    r = emulator.post("crm.deal.update", {"id": 404, "fields": {"TITLE": "x"}})
    assert r.status_code == 400 and r.json()["error_description"] == "Not found"


def test_delete_leaves_no_tombstone_and_removes_stage_history(emulator):
    a = emulator.call("crm.deal.add", {"fields": {"TITLE": "a"}})["result"]
    b = emulator.call("crm.deal.add", {"fields": {"TITLE": "b"}})["result"]
    assert emulator.call("crm.deal.delete", {"id": a})["result"] is True
    assert [d["ID"] for d in emulator.call("crm.deal.list")["result"]] == [str(b)]
    assert emulator.post("crm.deal.get", {"id": a}).status_code == 400
    owners = {h["OWNER_ID"] for h in emulator.call(
        "crm.stagehistory.list", {"entityTypeId": 2})["result"]["items"]}
    assert owners == {b}
    assert emulator.post("crm.deal.delete", {"id": a}).json()["error_description"] == "Not found"


def test_status_add_creates_a_stage_with_its_semantics(emulator):
    emulator.call("crm.status.add", {"fields": {"ENTITY_ID": "STATUS", "STATUS_ID": "UC_LOST",
                                                "NAME": "Потерян", "SORT": 90, "SEMANTICS": "F"}})
    lead_id = emulator.call("crm.lead.add", {"fields": {"STATUS_ID": "UC_LOST"}})["result"]
    lead = emulator.call("crm.lead.get", {"id": lead_id})["result"]
    assert lead["STATUS_SEMANTIC_ID"] == "F" and lead["DATE_CLOSED"] != ""
    duplicate = emulator.post("crm.status.add", {"fields": {
        "ENTITY_ID": "STATUS", "STATUS_ID": "UC_LOST", "NAME": "x"}})
    assert duplicate.status_code == 400


def test_user_add_creates_an_active_employee(emulator):
    user_id = emulator.call("user.add", {"EMAIL": "new@example.ru", "NAME": "Пётр",
                                         "UF_DEPARTMENT": [1]})["result"]
    user = emulator.call("user.get", {"ID": user_id})["result"][0]
    assert user["NAME"] == "Пётр" and user["ACTIVE"] is True and user["UF_DEPARTMENT"] == [1]
    assert emulator.post("user.add", {"NAME": "no email"}).json()["error"] == "ERROR_ARGUMENT"
