"""Where a real portal refuses or answers differently, the emulator does too: each test names the
documented answer it asserts (paths in the `bitrix24/b24restdocs` repository)."""

from datetime import datetime

import pytest


def _error(response) -> tuple[int, dict]:
    return response.status_code, response.json()


# -- 1. filter / order / params must be arrays (crm/deals/crm-deal-list.md, crm-deal-add.md) ------


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("crm.lead.list", {}),
        ("crm.deal.list", {}),
        ("crm.status.list", {}),
        ("crm.stagehistory.list", {"entityTypeId": 2}),
    ],
)
@pytest.mark.parametrize("name", ["filter", "order"])
def test_a_non_object_filter_or_order_is_refused_not_ignored(emulator, method, extra, name):
    emulator.call("crm.deal.add", {"fields": {"TITLE": "a deal that must not leak out"}})
    for bad in ("abc", 5, True):
        status, body = _error(emulator.post(method, {**extra, name: bad}))
        assert status == 400, (method, name, bad)
        assert body == {"error": "", "error_description": f"Parameter '{name}' must be array."}


def test_a_form_encoded_string_filter_is_refused_too(emulator):
    response = emulator.session.post(
        emulator.webhook + "crm.deal.list.json", data={"filter": "abc"}, timeout=10
    )
    assert response.status_code == 400
    assert response.json()["error_description"] == "Parameter 'filter' must be array."


def test_an_empty_list_is_an_array_and_null_is_no_filter(emulator):
    emulator.call("crm.deal.add", {"fields": {"TITLE": "x"}})
    assert emulator.call("crm.deal.list", {"filter": []})["total"] == 1
    assert emulator.call("crm.deal.list", {"filter": None, "order": None})["total"] == 1


def test_non_object_params_on_add_and_update_are_refused(emulator):
    status, body = _error(emulator.post("crm.deal.add", {"fields": {"TITLE": "x"}, "params": "Y"}))
    assert (status, body["error_description"]) == (400, "Parameter 'params' must be array.")
    deal = emulator.call(
        "crm.deal.add", {"fields": {"TITLE": "x"}, "params": {"REGISTER_SONET_EVENT": "N"}}
    )["result"]
    status, body = _error(emulator.post("crm.deal.update", {"id": deal, "fields": "TITLE=y"}))
    assert (status, body["error_description"]) == (400, "Parameter 'fields' must be array.")


# -- 2. crm.stagehistory.list validates (crm/crm-stage-history-list.md) --------------------------


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"entityTypeId": 1, "filter": {"STAGE_ID": "NEW"}},
         "Invalid filter: field 'STAGE_ID' is not allowed in filter"),
        ({"entityTypeId": 2, "filter": {"STATUS_ID": "NEW"}},
         "Invalid filter: field 'STATUS_ID' is not allowed in filter"),
        ({"entityTypeId": 2, "filter": {">ID": "abc"}},
         "Invalid filter: field 'ID' has invalid value"),
        ({"entityTypeId": 2, "filter": {">=CREATED_TIME": "yesterday"}},
         "Invalid filter: field 'CREATED_TIME' has invalid value"),
        ({"entityTypeId": 2, "order": {"DATE_MODIFY": "ASC"}},
         "Invalid order: field 'DATE_MODIFY' is not allowed in order"),
        ({"entityTypeId": 2, "order": {"ID": "SIDEWAYS"}},
         "Invalid order: allowed sort directions are ASC, DESC. But got 'SIDEWAYS' for field 'ID'"),
    ],
)
def test_stage_history_refuses_what_it_cannot_filter_or_sort(emulator, params, description):
    emulator.call("crm.deal.add", {"fields": {"TITLE": "x"}})
    status, body = _error(emulator.post("crm.stagehistory.list", params))
    assert (status, body) == (400, {"error": "INVALID_ARG_VALUE", "error_description": description})


def test_stage_history_accepts_its_own_fields_in_any_case_of_direction(emulator):
    emulator.call("crm.deal.add", {"fields": {"TITLE": "x"}})
    body = emulator.call("crm.stagehistory.list", {
        "entityTypeId": 2, "filter": {">=ID": 1, "STAGE_ID": "NEW"}, "order": {"ID": "desc"}})
    assert [row["STAGE_ID"] for row in body["result"]["items"]] == ["NEW"]


def test_the_legacy_list_still_drops_an_unknown_filter_field(emulator):
    emulator.call("crm.deal.add", {"fields": {"TITLE": "x"}})
    assert emulator.call("crm.deal.list", {"filter": {"NO_SUCH_FIELD": 1}})["total"] == 1


# -- 3. LIKE does not work on crm_status fields (crm/deals/crm-deal-list.md) ----------------------


def test_like_on_a_stage_or_type_is_an_exact_match(emulator):
    for stage, kind in (("WON", "SALE"), ("NEW", "COMPLEX")):
        emulator.call("crm.deal.add", {"fields": {"TITLE": stage, "STAGE_ID": stage,
                                                  "TYPE_ID": kind}})

    def stages(flt):
        rows = emulator.call("crm.deal.list", {"filter": flt, "select": ["STAGE_ID"]})["result"]
        return [row["STAGE_ID"] for row in rows]

    assert stages({"%STAGE_ID": "WO"}) == []
    assert stages({"%STAGE_ID": "WON"}) == ["WON"]
    assert stages({"=%TYPE_ID": "COMP%"}) == []
    assert stages({"%=TYPE_ID": "COMPLEX"}) == ["NEW"]
    assert stages({"%TITLE": "O"}) == ["WON"]  # a string field keeps its LIKE


# -- 4. a funnel change writes TYPE_ID 5 (crm/crm-stage-history-list.md) -------------------------


def test_the_demo_portal_has_funnel_changes_in_its_stage_history(demo):
    moves = demo.call("crm.stagehistory.list", {"entityTypeId": 2, "filter": {"TYPE_ID": 5}})
    assert moves["total"] > 0
    assert all(row["STAGE_ID"].startswith("C1:") for row in moves["result"]["items"])


# -- 5. operating_reset_at: 10 minutes after the bucket's first call (limits.md) -----------------


def test_operating_reset_at_is_ten_minutes_after_the_first_call_of_its_minute(emulator):
    emulator.configure(operating_limit={"enabled": True})
    emulator.control("POST", "clock", {"set": "2026-05-14T10:05:20+02:00", "frozen": True})
    first = emulator.call("crm.deal.list")["time"]
    emulator.control("POST", "clock", {"advance_seconds": 30})
    later = emulator.call("crm.deal.list")["time"]
    expected = int(datetime.fromisoformat("2026-05-14T10:15:20+02:00").timestamp())
    assert first["operating_reset_at"] == later["operating_reset_at"] == expected
    emulator.control("POST", "clock", {"advance_seconds": 600})  # 10:15:50: that bucket is gone
    assert emulator.call("crm.deal.list")["time"]["operating_reset_at"] == expected + 630


# -- 7. an amount is a double: validated as CCrmDeal::CheckFields does ----------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("12 500,50", "12500.50"), (".5", "0.50"), (1500, "1500.00"), (99.999, "100.00"),
     ("-20", "-20.00")],
)
def test_an_amount_is_stored_as_a_number(emulator, sent, stored):
    deal = emulator.call("crm.deal.add", {"fields": {"OPPORTUNITY": sent}})["result"]
    assert emulator.call("crm.deal.get", {"id": deal})["result"]["OPPORTUNITY"] == stored


@pytest.mark.parametrize("sent", ["abc", "12 500 руб.", "1e3", "NaN"])
def test_an_amount_that_is_no_number_is_refused_by_every_write_method(emulator, sent):
    status, body = _error(emulator.post("crm.lead.add", {"fields": {"OPPORTUNITY": sent}}))
    assert status == 400 and body["error"] == "" and "OPPORTUNITY" in body["error_description"]
    deal = emulator.call("crm.deal.add", {"fields": {"OPPORTUNITY": 10}})["result"]
    assert emulator.post("crm.deal.update", {"id": deal, "fields": {"OPPORTUNITY": sent}}
                         ).status_code == 400
    item = emulator.post("crm.item.add", {"entityTypeId": 2, "fields": {"opportunity": sent}})
    assert item.status_code == 400 and item.json()["error"] == "INVALID_ARG_VALUE"
    assert emulator.call("crm.deal.get", {"id": deal})["result"]["OPPORTUNITY"] == "10.00"


# -- 8. error texts and entity types --------------------------------------------------------------


def test_missing_records_answer_the_documented_text(emulator):
    assert _error(emulator.post("crm.lead.get", {"id": 404})) == (
        400, {"error": "", "error_description": "Not found"})
    assert _error(emulator.post("crm.lead.get", {"id": "x"})) == (
        400, {"error": "", "error_description": "ID is not defined or invalid"})


@pytest.mark.parametrize("method", ["crm.category.list", "crm.stagehistory.list", "crm.item.list"])
def test_a_missing_or_unknown_entity_type_is_not_found(emulator, method):
    for params in ({}, {"entityTypeId": 999}, {"entityTypeId": "deal"}):
        assert _error(emulator.post(method, params)) == (
            400, {"error": "NOT_FOUND", "error_description": "Smart process not found"})


def test_a_known_entity_type_without_funnels_is_not_supported(emulator):
    assert _error(emulator.post("crm.category.list", {"entityTypeId": 1})) == (
        400, {"error": "ENTITY_TYPE_NOT_SUPPORTED",
              "error_description": "Entity type LEAD is not supported"})


# -- 9. permissions, and processing vs duration ---------------------------------------------------


def test_a_method_outside_the_webhook_scopes_is_insufficient_scope(emulator):
    emulator.configure(scopes=["user", "department"])
    status, body = _error(emulator.post("crm.deal.list"))
    assert status == 401 and body["error"] == "insufficient_scope"
    assert emulator.post("user.get").status_code == 200
    assert emulator.post("server.time").status_code == 200
    batch = emulator.call("batch", {"cmd": {"deals": "crm.deal.list", "me": "user.get"}})["result"]
    assert batch["result_error"]["deals"]["error"] == "insufficient_scope"
    assert "me" in batch["result"]


def test_a_webhook_user_without_crm_rights_is_denied_every_crm_method(emulator):
    emulator.configure(crm_access=False)
    assert _error(emulator.post("crm.deal.list")) == (
        400, {"error": "", "error_description": "Access denied."})
    assert _error(emulator.post("crm.item.list", {"entityTypeId": 1})) == (
        400, {"error": "ACCESS_DENIED", "error_description": "Access denied"})
    assert emulator.post("user.get").status_code == 200


def test_processing_is_the_methods_own_share_of_the_duration(emulator):
    emulator.control("POST", "faults", {"kind": "slow", "delay_seconds": 0.3, "count": 1})
    block = emulator.call("crm.deal.list")["time"]
    assert block["duration"] >= 0.3 > block["processing"] > 0


# -- 6. the documented field sets -----------------------------------------------------------------


def test_lead_and_deal_fields_carry_the_documented_sets_settings_and_deprecations(emulator):
    lead = emulator.call("crm.lead.fields")["result"]
    assert {"ADDRESS_2", "ADDRESS_CITY", "ADDRESS_POSTAL_CODE", "ADDRESS_REGION",
            "ADDRESS_PROVINCE", "ADDRESS_COUNTRY", "ADDRESS_COUNTRY_CODE",
            "ADDRESS_LOC_ADDR_ID", "CONTACT_IDS", "WEB", "IM", "LINK"} <= set(lead)
    assert lead["COMPANY_ID"]["settings"] == {"parentEntityTypeId": 4}
    assert lead["CONTACT_ID"]["isDeprecated"] is True
    assert lead["CONTACT_IDS"]["isMultiple"] is True and lead["WEB"]["type"] == "crm_multifield"
    deal = emulator.call("crm.deal.fields")["result"]
    assert deal["LOCATION_ID"]["type"] == "location" and deal["CONTACT_IDS"]["isMultiple"]


def test_contact_ids_are_written_but_never_listed_and_keep_the_single_contact_id(emulator):
    deal = emulator.call("crm.deal.add", {"fields": {"TITLE": "x", "CONTACT_IDS": [84, 83]}})
    got = emulator.call("crm.deal.get", {"id": deal["result"]})["result"]
    assert got["CONTACT_ID"] == "84" and "CONTACT_IDS" not in got
    listed = emulator.call("crm.deal.list", {"select": ["ID", "CONTACT_IDS"]})["result"]
    assert listed == [{"ID": str(deal["result"])}]


def test_lead_address_and_web_fields_round_trip(emulator):
    lead = emulator.call("crm.lead.add", {"fields": {
        "ADDRESS_CITY": "Казань", "WEB": [{"VALUE": "https://avto.example", "VALUE_TYPE": "WORK"}],
    }})["result"]
    got = emulator.call("crm.lead.get", {"id": lead})["result"]
    assert got["ADDRESS_CITY"] == "Казань" and got["WEB"][0]["VALUE"] == "https://avto.example"


def test_user_get_honours_its_select(demo):
    rows = demo.call("user.get", {"select": ["ID", "NAME"]})["result"]
    assert set(rows[0]) == {"ID", "NAME"}
    assert "UF_DEPARTMENT" in demo.call("user.get", {"select": ["*"]})["result"][0]


# -- documented reference methods -----------------------------------------------------------------


def test_user_current_is_the_webhooks_user(demo):
    me = demo.call("user.current")["result"]
    assert me["ID"] == "1" and me["ACTIVE"] is True


def test_status_entity_types_list_every_funnel_with_its_semantics(demo):
    types = {t["ID"]: t for t in demo.call("crm.status.entity.types")["result"]}
    assert types["STATUS"]["ENTITY_TYPE_ID"] == 1
    assert types["DEAL_STAGE_1"]["PREFIX"] == "C1" and types["DEAL_STAGE_1"]["PARENT_ID"] == (
        "DEAL_STAGE")
    assert types["DEAL_STAGE_1"]["SEMANTIC_INFO"]["FINAL_SUCCESS_FIELD"] == "C1:WON"
    stages = demo.call("crm.status.list", {"filter": {"ENTITY_ID": "STATUS"}})["result"]
    first = min(stages, key=lambda s: int(s["SORT"]))["STATUS_ID"]
    assert types["STATUS"]["SEMANTIC_INFO"]["START_FIELD"] == first


def test_currency_list_has_the_rouble_as_base(emulator):
    rows = emulator.call("crm.currency.list")["result"]
    assert [r["CURRENCY"] for r in rows if r["BASE"] == "Y"] == ["RUB"]
    assert all(isinstance(r["AMOUNT"], str) for r in rows)


def test_userfield_list_names_the_custom_fields_crm_fields_shows(demo):
    listed = {r["FIELD_NAME"] for r in demo.call("crm.deal.userfield.list")["result"]}
    described = {k for k in demo.call("crm.deal.fields")["result"] if k.startswith("UF_")}
    assert listed == described == {"UF_CRM_CAR_BRAND", "UF_CRM_BRANCH", "UF_CRM_DELIVERY"}


def test_userfield_list_filters_and_orders(demo):
    rows = demo.call("crm.deal.userfield.list", {"order": {"FIELD_NAME": "DESC"}})["result"]
    assert [r["FIELD_NAME"] for r in rows] == sorted((r["FIELD_NAME"] for r in rows), reverse=True)
    only = demo.call("crm.deal.userfield.list", {"filter": {"FIELD_NAME": "UF_CRM_BRANCH"}})
    assert [r["FIELD_NAME"] for r in only["result"]] == ["UF_CRM_BRANCH"]


# -- users and departments (user/user-get.md, user-update.md, user-fields.md) ----------------------


def test_user_get_answers_empty_text_as_empty_strings_and_the_documented_extras(emulator):
    me = emulator.call("user.get", {"ID": 1})["result"][0]
    for name in ("SECOND_NAME", "TIME_ZONE", "PERSONAL_GENDER", "XML_ID", "UF_EMPLOYMENT_DATE",
                 "PERSONAL_BIRTHDAY"):
        assert me[name] == "", name
    assert me["TIMESTAMP_X"] == {} and me["LAST_ACTIVITY_DATE"] == {}


def test_user_update_dismisses_and_renames(emulator):
    uid = emulator.call("user.add", {"EMAIL": "seller@example.ru", "NAME": "Иван"})["result"]
    assert emulator.call("user.update", {"ID": uid, "ACTIVE": "N", "LAST_NAME": "Петров"})[
        "result"] is True
    row = emulator.call("user.get", {"ID": uid})["result"][0]
    assert row["ACTIVE"] is False and row["LAST_NAME"] == "Петров"
    assert emulator.post("user.update", {"ID": 999, "NAME": "x"}).status_code == 400


def test_user_and_department_fields_name_every_field(emulator):
    assert emulator.call("user.fields")["result"]["UF_DEPARTMENT"] == "Подразделения"
    assert set(emulator.call("department.fields")["result"]) == {
        "ID", "NAME", "SORT", "PARENT", "UF_HEAD"}


# -- statuses and funnels (crm/status/crm-status-*.md, universal/category/crm-category-*.md) ------


def _stage(client, entity_id, status_id):
    rows = client.call("crm.status.list", {"filter": {"ENTITY_ID": entity_id}})["result"]
    return next(r for r in rows if r["STATUS_ID"] == status_id)


def test_a_status_is_read_renamed_and_deleted_by_its_row_id(emulator):
    new = emulator.call("crm.status.add", {"fields": {
        "ENTITY_ID": "STATUS", "STATUS_ID": "UC_CALL", "NAME": "Звонок", "SORT": 15}})["result"]
    assert emulator.call("crm.status.get", {"id": new})["result"]["NAME"] == "Звонок"
    assert emulator.call("crm.status.update", {"id": new, "fields": {"NAME": "Перезвон"}})[
        "result"] is True
    assert _stage(emulator, "STATUS", "UC_CALL")["NAME"] == "Перезвон"
    assert "NAME" in emulator.call("crm.status.fields")["result"]
    lead = emulator.call("crm.lead.add", {"fields": {"STATUS_ID": "UC_CALL"}})["result"]
    busy = emulator.post("crm.status.delete", {"id": new})
    assert busy.status_code == 400
    assert busy.json()["error_description"] == "There are active items in this status."
    emulator.call("crm.lead.update", {"id": lead, "fields": {"STATUS_ID": "IN_PROCESS"}})
    assert emulator.call("crm.status.delete", {"id": new})["result"] is True
    assert emulator.post("crm.status.get", {"id": new}).json()["error_description"] == (
        "Status is not found.")


def test_a_system_status_is_deleted_only_when_forced(emulator):
    system = _stage(emulator, "STATUS", "IN_PROCESS")
    refused = emulator.post("crm.status.delete", {"id": system["ID"]})
    assert refused.status_code == 400 and "FORCED" in refused.json()["error_description"]
    forced = emulator.call("crm.status.delete", {"id": system["ID"], "params": {"FORCED": "Y"}})
    assert forced["result"] is True


def test_a_funnel_is_read_renamed_and_deleted_only_when_empty(emulator):
    new = emulator.call("crm.category.add", {"entityTypeId": 2, "fields": {"name": "Опт"}})[
        "result"]["category"]["id"]
    got = emulator.call("crm.category.get", {"entityTypeId": 2, "id": new})["result"]
    assert got["category"]["name"] == "Опт"
    renamed = emulator.call(
        "crm.category.update", {"entityTypeId": 2, "id": new, "fields": {"name": "Оптовые"}})
    assert renamed["result"]["category"]["name"] == "Оптовые"
    assert "name" in emulator.call("crm.category.fields", {"entityTypeId": 2})["result"]
    deal = emulator.call("crm.deal.add", {"fields": {"CATEGORY_ID": new}})["result"]
    held = emulator.post("crm.category.delete", {"entityTypeId": 2, "id": new}).json()
    assert held["error_description"] == "Deals related to the funnel Оптовые found"
    default = emulator.post("crm.category.delete", {"entityTypeId": 2, "id": 0}).json()
    assert default["error_description"] == "Default deal category cannot be deleted"
    emulator.call("crm.deal.delete", {"id": deal})
    assert emulator.call("crm.category.delete", {"entityTypeId": 2, "id": new})["result"] is None
    assert not emulator.call("crm.status.list", {"filter": {"ENTITY_ID": f"DEAL_STAGE_{new}"}})[
        "result"]


# -- a deal's contacts (crm/deals/contacts/crm-deal-contact-add.md, -fields.md) --------------------


def test_a_contact_is_linked_to_a_deal_once(emulator):
    first = emulator.call("crm.contact.add", {"fields": {"NAME": "Анна"}})["result"]
    second = emulator.call("crm.contact.add", {"fields": {"NAME": "Олег"}})["result"]
    deal = emulator.call("crm.deal.add", {"fields": {"CONTACT_IDS": [first]}})["result"]
    assert emulator.call("crm.deal.contact.add", {"id": deal, "fields": {
        "CONTACT_ID": second, "IS_PRIMARY": "Y"}})["result"] is True
    assert emulator.call("crm.deal.contact.add", {"id": deal, "fields": {
        "CONTACT_ID": second}})["result"] is False
    links = emulator.call("crm.deal.contact.items.get", {"id": deal})["result"]
    assert [(r["CONTACT_ID"], r["IS_PRIMARY"]) for r in links] == [(second, "Y"), (first, "N")]
    assert emulator.call("crm.deal.contact.fields")["result"]["CONTACT_ID"]["isRequired"] is True


# -- companies (crm/companies/crm-company-fields.md) ---------------------------------------------


def test_company_fields_carry_employees_addresses_banking_and_logo(emulator):
    fields = emulator.call("crm.company.fields")["result"]
    for name in ("EMPLOYEES", "LOGO", "BANKING_DETAILS", "ADDRESS", "ADDRESS_CITY", "REG_ADDRESS",
                 "REG_ADDRESS_POSTAL_CODE"):
        assert name in fields, name
    company = emulator.call("crm.company.add", {"fields": {
        "TITLE": "ООО Ромашка", "EMPLOYEES": "EMPLOYEES_2"}})["result"]
    assert emulator.call("crm.company.get", {"id": company})["result"]["EMPLOYEES"] == (
        "EMPLOYEES_2")


# -- currencies (crm/currency/crm-currency-*.md) --------------------------------------------------


def test_currencies_are_added_updated_and_the_base_is_read_and_changed(emulator):
    assert emulator.call("crm.currency.base.get")["result"] == "RUB"
    assert emulator.call("crm.currency.update", {"id": "USD", "fields": {"AMOUNT": 95.25}})[
        "result"] is True
    assert emulator.call("crm.currency.get", {"id": "USD"})["result"]["AMOUNT"] == "95.2500"
    assert emulator.call("crm.currency.add", {"fields": {
        "CURRENCY": "KZT", "AMOUNT_CNT": 100, "AMOUNT": 17.4, "SORT": 500}})["result"] == "KZT"
    kzt = emulator.call("crm.currency.get", {"id": "KZT"})["result"]
    assert (kzt["AMOUNT_CNT"], kzt["AMOUNT"], kzt["BASE"]) == ("100", "17.4000", "N")
    assert emulator.post("crm.currency.delete", {"id": "RUB"}).status_code == 400
    assert emulator.call("crm.currency.base.set", {"id": "USD"})["result"] is True
    assert emulator.call("crm.currency.base.get")["result"] == "USD"
    listed = emulator.call("crm.currency.list")["result"]
    assert [r["CURRENCY"] for r in listed if r["BASE"] == "Y"] == ["USD"]
    assert emulator.call("crm.currency.delete", {"id": "KZT"})["result"] is True
    assert emulator.post("crm.currency.get", {"id": "KZT"}).status_code == 400
