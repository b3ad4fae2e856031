"""`crm.item.*` for leads and deals, `crm.category.add` and the recycle bin, over HTTP."""

from emulator.methods.items import camel


def _freeze(emulator, at="2024-05-01T10:00:00+03:00"):
    emulator.control("POST", "clock", {"set": at, "frozen": True})


def _item(emulator, method, **params):
    return emulator.call(f"crm.item.{method}", params)["result"]


def test_camel_case_names_follow_the_universal_api():
    assert [camel(n) for n in ("UTM_SOURCE", "STATUS_ID", "DATE_MODIFY", "CREATED_BY_ID",
                               "ID", "UF_CRM_CAR_BRAND", "BEGINDATE", "ASSIGNED_BY_ID")] == [
        "utmSource", "stageId", "updatedTime", "createdBy", "id", "ufCrmCarBrand", "begindate",
        "assignedById"]


def test_an_item_added_with_a_lead_id_links_the_deal_and_answers_in_camel_case(emulator):
    _freeze(emulator)
    lead = _item(emulator, "add", entityTypeId=1,
                 fields={"title": "Авито", "utmSource": "2000000001", "notAField": 1})["item"]
    assert lead["stageId"] == "NEW" and lead["utmSource"] == "2000000001"
    assert "notAField" not in lead and isinstance(lead["id"], int)
    assert lead["dateClosed"] is None and lead["createdTime"] == "2024-05-01T10:00:00+03:00"
    deal = _item(emulator, "add", entityTypeId=2,
                 fields={"title": "Бампер", "leadId": lead["id"], "opportunity": "1500"})["item"]
    assert (deal["leadId"], deal["opportunity"], deal["categoryId"]) == (lead["id"], 1500.0, 0)
    # the legacy method sees the link too, and still cannot write it
    assert emulator.call("crm.deal.get", {"id": deal["id"]})["result"]["LEAD_ID"] == str(lead["id"])
    legacy = emulator.call("crm.deal.add", {"fields": {"TITLE": "x", "LEAD_ID": lead["id"]}})
    assert emulator.call("crm.deal.get", {"id": legacy["result"]})["result"]["LEAD_ID"] is None
    unknown = emulator.post("crm.item.add", {"entityTypeId": 2, "fields": {"leadId": 999}})
    assert unknown.status_code == 400 and unknown.json()["error"] == "INVALID_ARG_VALUE"


def test_item_list_filters_selects_and_pages_by_camel_case_fields(emulator):
    _freeze(emulator)
    ids = [_item(emulator, "add", entityTypeId=1, fields={"title": f"L{i}"})["item"]["id"]
           for i in range(3)]
    body = emulator.call("crm.item.list", {"entityTypeId": 1, "filter": {">id": ids[0]},
                                           "select": ["id", "title"], "order": {"id": "DESC"}})
    assert body["result"]["items"] == [{"id": ids[2], "title": "L2"},
                                       {"id": ids[1], "title": "L1"}]
    assert body["total"] == 2
    bad = emulator.post("crm.item.list", {"entityTypeId": 1, "filter": {"bogus": 1}})
    assert bad.status_code == 400
    assert bad.json()["error_description"] == (
        "Invalid filter: field 'bogus' is not allowed in filter")
    sideways = emulator.post("crm.item.list", {"entityTypeId": 1, "order": {"id": "SIDEWAYS"}})
    assert sideways.status_code == 400 and sideways.json()["error"] == "INVALID_ARG_VALUE"
    missing = emulator.post("crm.item.get", {"entityTypeId": 1, "id": 999})
    assert missing.json() == {"error": "NOT_FOUND", "error_description": "Element not found"}
    smart = emulator.post("crm.item.list", {"entityTypeId": 177})
    assert smart.json()["error"] == "NOT_FOUND"


def test_a_funnel_move_writes_a_type_5_history_row_in_the_new_funnel(emulator):
    _freeze(emulator)
    funnel = emulator.call("crm.category.add", {"entityTypeId": 2,
                                                "fields": {"name": "Опт"}})["result"]["category"]
    stages = emulator.call("crm.status.list", {"filter": {
        "ENTITY_ID": f"DEAL_STAGE_{funnel['id']}"}})["result"]
    assert [s["STATUS_ID"] for s in stages][:2] == [f"C{funnel['id']}:NEW",
                                                     f"C{funnel['id']}:PREPARATION"]
    deal = _item(emulator, "add", entityTypeId=2, fields={"title": "Опт"})["item"]
    emulator.control("POST", "clock", {"advance_seconds": 60})
    moved = _item(emulator, "update", entityTypeId=2, id=deal["id"],
                  fields={"categoryId": funnel["id"]})["item"]
    assert (moved["categoryId"], moved["stageId"], moved["movedTime"]) == (
        funnel["id"], f"C{funnel['id']}:NEW", "2024-05-01T10:01:00+03:00")
    history = emulator.call("crm.stagehistory.list", {"entityTypeId": 2})["result"]["items"]
    assert [(h["TYPE_ID"], h["CATEGORY_ID"], h["STAGE_ID"]) for h in history] == [
        (1, 0, "NEW"), (5, funnel["id"], f"C{funnel['id']}:NEW")]
    # crm.deal.update still cannot change the funnel (CATEGORY_ID is immutable there)
    emulator.call("crm.deal.update", {"id": deal["id"], "fields": {"CATEGORY_ID": 0}})
    assert emulator.call("crm.deal.get", {"id": deal["id"]})["result"]["CATEGORY_ID"] == str(
        funnel["id"])


def test_a_deleted_record_is_restored_from_the_recycle_bin_and_ids_are_never_reused(emulator):
    _freeze(emulator)
    first = emulator.call("crm.deal.add", {"fields": {"TITLE": "a"}})["result"]
    last = emulator.call("crm.deal.add", {"fields": {"TITLE": "b", "STAGE_ID": "WON"}})["result"]
    before = emulator.call("crm.deal.get", {"id": last})["result"]
    assert _item(emulator, "delete", entityTypeId=2, id=last) == []
    assert emulator.call("crm.deal.list", {})["result"][0]["ID"] == str(first)
    assert emulator.call("crm.deal.add", {"fields": {"TITLE": "c"}})["result"] == last + 1
    emulator.control("POST", "clock", {"advance_seconds": 3600})
    emulator.control("POST", f"recyclebin/deal/{last}")
    assert emulator.call("crm.deal.get", {"id": last})["result"] == before
    history = emulator.call("crm.stagehistory.list", {"entityTypeId": 2,
                                                      "filter": {"OWNER_ID": last}})
    assert [h["TYPE_ID"] for h in history["result"]["items"]] == [1]
    again = emulator.session.post(f"{emulator.base}/_emulator/recyclebin/deal/{last}")
    assert again.status_code == 400
