"""List semantics: pages, counts, filters, order, select and the legacy value encoding."""

import pytest


@pytest.fixture
def leads(emulator):
    """120 leads with known fields, created one second apart on a frozen clock."""
    emulator.control("POST", "clock", {"set": "2024-04-23T01:30:00+03:00", "frozen": True})
    for i in range(1, 121):
        emulator.call(
            "crm.lead.add",
            {
                "fields": {
                    "TITLE": f"Бампер {i}" if i % 2 else f"Оптика {i}",
                    "OPPORTUNITY": i * 100,
                    "SOURCE_ID": "WEB" if i % 3 == 0 else "CALL",
                    "UTM_SOURCE": str(1000 + i) if i % 4 else None,
                    "ASSIGNED_BY_ID": 1,
                }
            },
        )
        emulator.control("POST", "clock", {"advance_seconds": 1})
    return emulator


def ids(body):
    rows = body["result"]
    rows = rows["items"] if isinstance(rows, dict) else rows
    return [int(r["ID"]) for r in rows]


def test_pages_hold_50_rows_with_next_and_total(leads):
    first = leads.call("crm.lead.list", {"select": ["ID"]})
    assert len(first["result"]) == 50 and first["next"] == 50 and first["total"] == 120
    last = leads.call("crm.lead.list", {"select": ["ID"], "start": 100})
    assert ids(last) == list(range(101, 121))
    assert "next" not in last and last["total"] == 120


def test_start_is_floored_to_a_page_boundary(leads):
    assert ids(leads.call("crm.lead.list", {"select": ["ID"], "start": 75}))[0] == 51


def test_start_minus_one_skips_the_count(leads):
    body = leads.call(
        "crm.lead.list",
        {"select": ["ID"], "start": -1, "order": {"ID": "ASC"}, "filter": {">ID": 60}},
    )
    assert ids(body) == list(range(61, 111))
    assert body["total"] == 0 and "next" not in body


def test_keyset_paging_with_start_minus_one_reads_every_row_once(leads):
    seen, last = [], 0
    while True:
        page = ids(
            leads.call(
                "crm.lead.list",
                {"select": ["ID"], "start": -1, "order": {"ID": "ASC"}, "filter": {">ID": last}},
            )
        )
        seen += page
        if len(page) < 50:
            break
        last = page[-1]
    assert seen == list(range(1, 121))


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"ID": 5}, [5]),
        ({"=ID": 5}, [5]),
        ({"ID": [3, 4]}, [3, 4]),
        ({"@ID": [7, 9, 200]}, [7, 9]),
        ({">ID": 117}, [118, 119, 120]),
        ({">=ID": 118}, [118, 119, 120]),
        ({"<ID": 3}, [1, 2]),
        ({"<=ID": 2}, [1, 2]),
        ({"!ID": 1, "<ID": 4}, [2, 3]),
        ({"!=ID": 1, "<ID": 4}, [2, 3]),
        ({"!@ID": [1, 2], "<ID": 5}, [3, 4]),
        ({"%TITLE": "пер 11"}, [11, 111, 113, 115, 117, 119]),
        ({"%TITLE": "БАМПЕР 11"}, [11, 111, 113, 115, 117, 119]),
        ({"=%TITLE": "Оптика 1%", "<ID": 20}, [10, 12, 14, 16, 18]),
        ({"%=TITLE": "%ка 2", "<ID": 20}, [2]),
        ({"!%TITLE": "Бампер", "<ID": 7}, [2, 4, 6]),
        ({"!=%TITLE": "Бампер%", "<ID": 7}, [2, 4, 6]),
        ({"!%=TITLE": "Бампер%", "<ID": 7}, [2, 4, 6]),
        ({">OPPORTUNITY": 11_800}, [119, 120]),
        ({"SOURCE_ID": "WEB", "<ID": 10}, [3, 6, 9]),
        ({"UTM_SOURCE": "", "<ID": 13}, [4, 8, 12]),
        ({"!UTM_SOURCE": "", "<ID": 5}, [1, 2, 3]),
        ({">=DATE_CREATE": "2024-04-23T01:31:58+03:00"}, [119, 120]),
        ({">=DATE_CREATE": "2024-04-22T22:31:58+00:00"}, [119, 120]),
        ({">=DATE_CREATE": "2024-04-23T01:31:58"}, [119, 120]),
        ({">=DATE_CREATE": "23.04.2024 01:31:58"}, [119, 120]),
        ({">DATE_MODIFY": "not a date"}, []),
        ({"NO_SUCH_FIELD": "x", ">ID": 118}, [119, 120]),
    ],
)
def test_filter_prefix(leads, flt, expected):
    body = leads.call(
        "crm.lead.list", {"filter": flt, "select": ["ID"], "order": {"ID": "ASC"}, "start": -1}
    )
    assert ids(body) == expected


def test_a_typo_in_a_filter_key_returns_unfiltered_rows_as_a_portal_does(leads):
    body = leads.call("crm.lead.list", {"filter": {">DATE_MODIFIED": "2030-01-01T00:00:00+03:00"}})
    assert body["total"] == 120


def test_order_is_applied_and_ties_break_by_id(leads):
    body = leads.call(
        "crm.lead.list",
        {
            "order": {"SOURCE_ID": "desc", "OPPORTUNITY": "ASC"},
            "select": ["ID", "SOURCE_ID"],
            "start": -1,
        },
    )
    assert [r["SOURCE_ID"] for r in body["result"][:3]] == ["WEB"] * 3
    assert ids(body)[:3] == [3, 6, 9]
    desc = leads.call("crm.lead.list", {"order": {"OPPORTUNITY": "DESC"}, "select": ["ID"]})
    assert ids(desc)[:2] == [120, 119]  # numeric, not text, order of amounts


def test_select_masks_and_names(leads):
    star = leads.call(
        "crm.lead.list", {"select": ["*"], "filter": {"ID": 1}}
    )["result"][0]
    assert "TITLE" in star and "PHONE" not in star and not any(k.startswith("UF_") for k in star)
    named = leads.call(
        "crm.lead.list", {"select": ["TITLE", "PHONE", "NOPE"], "filter": {"ID": 1}}
    )["result"][0]
    assert set(named) == {"ID", "TITLE", "PHONE"}
    default = leads.call("crm.lead.list", {"filter": {"ID": 1}})["result"][0]
    assert set(default) == set(star)


def test_custom_fields_come_with_uf_mask(demo):
    lead = demo.call("crm.lead.list", {"select": ["UF_*"], "start": -1})["result"][0]
    assert {"ID", "UF_CRM_CAR_BRAND", "UF_CRM_BRANCH", "UF_CRM_AVITO_CHAT"} == set(lead)
    assert isinstance(lead["UF_CRM_AVITO_CHAT"], bool)
    filtered = demo.call(
        "crm.lead.list",
        {"filter": {"UF_CRM_CAR_BRAND": "Kia"}, "select": ["UF_CRM_CAR_BRAND"], "start": -1},
    )
    assert filtered["result"] and {r["UF_CRM_CAR_BRAND"] for r in filtered["result"]} == {"Kia"}


def test_legacy_encoding_of_values(leads):
    row = leads.call("crm.lead.list", {"filter": {"ID": 1}, "select": ["*"]})["result"][0]
    assert row["ID"] == "1" and row["ASSIGNED_BY_ID"] == "1"
    assert row["OPPORTUNITY"] == "100.00"
    assert row["OPENED"] == "Y" and row["STATUS_SEMANTIC_ID"] == "P"
    assert row["DATE_CREATE"] == "2024-04-23T01:30:00+03:00"
    assert row["DATE_CLOSED"] == ""
    assert row["UTM_MEDIUM"] is None


def test_date_only_fields_carry_the_offset_as_their_time(emulator):
    deal = emulator.call("crm.deal.add", {"fields": {"TITLE": "d", "CLOSEDATE": "2024-09-09"}})
    row = emulator.call("crm.deal.get", {"id": deal["result"]})["result"]
    assert row["CLOSEDATE"] == "2024-09-09T03:00:00+03:00"
    assert row["BEGINDATE"] == ""


def test_get_returns_one_record_and_documented_errors(leads):
    assert leads.call("crm.lead.get", {"id": 7})["result"]["TITLE"] == "Бампер 7"
    missing = leads.post("crm.lead.get", {"id": 9999})
    assert missing.status_code == 400
    assert missing.json() == {"error": "", "error_description": "Not found"}
    bad = leads.post("crm.lead.get", {"id": "abc"})
    assert bad.json() == {"error": "", "error_description": "ID is not defined or invalid"}


def test_fields_describe_standard_and_custom_fields(demo):
    fields = demo.call("crm.deal.fields")["result"]
    assert fields["STAGE_ID"]["type"] == "crm_status"
    assert fields["CATEGORY_ID"]["isImmutable"] is True
    assert fields["LEAD_ID"]["isReadOnly"] is True
    assert fields["UF_CRM_DELIVERY"]["isDynamic"] is True
    assert fields["UF_CRM_DELIVERY"]["listLabel"] == "Доставка"
    assert demo.call("crm.lead.fields")["result"]["PHONE"]["isMultiple"] is True


def test_stagehistory_list_wraps_items_and_pages(demo):
    body = demo.call(
        "crm.stagehistory.list", {"entityTypeId": 2, "order": {"ID": "ASC"}, "filter": {">ID": 0}}
    )
    items = body["result"]["items"]
    assert len(items) == 50 and body["next"] == 50 and body["total"] > 50
    first = items[0]
    assert set(first) == {
        "ID",
        "TYPE_ID",
        "OWNER_ID",
        "CREATED_TIME",
        "CATEGORY_ID",
        "STAGE_ID",
        "STAGE_SEMANTIC_ID",
    }
    assert isinstance(first["ID"], int) and first["TYPE_ID"] == 1
    leads = demo.call("crm.stagehistory.list", {"entityTypeId": 1, "start": -1})
    assert "STATUS_ID" in leads["result"]["items"][0] and leads["total"] == 0
    demo.configure(stagehistory_legacy_strings=True)
    legacy = demo.call("crm.stagehistory.list", {"entityTypeId": 1, "start": -1})
    assert legacy["result"]["items"][0]["ID"] == "1"


def test_stagehistory_rejects_unsupported_entity_types(emulator):
    r = emulator.post("crm.stagehistory.list", {"entityTypeId": 4})
    assert r.status_code == 400 and r.json()["error"] == "ENTITY_TYPE_NOT_SUPPORTED"


def test_dictionaries_categories_users_and_departments(demo):
    statuses = demo.call("crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE_1"}})
    stages = {s["STATUS_ID"]: s for s in statuses["result"]}
    assert stages["C1:WON"]["SEMANTICS"] == "S" and stages["C1:WON"]["CATEGORY_ID"] == "1"
    assert stages["C1:NEW"]["EXTRA"]["SEMANTICS"] == "process"
    assert statuses["total"] == len(statuses["result"])
    sources = demo.call("crm.status.list", {"filter": {"ENTITY_ID": "SOURCE"}})["result"]
    assert "UC_AVITO" in {s["STATUS_ID"] for s in sources}
    categories = demo.call("crm.category.list", {"entityTypeId": 2})
    assert [(c["id"], c["isDefault"]) for c in categories["result"]["categories"]] == [
        (0, "Y"),
        (1, "N"),
    ]
    users = demo.call("user.get", {"FILTER": {"ACTIVE": True}})
    assert all(u["ACTIVE"] is True for u in users["result"])
    everyone = demo.call("user.get", {"sort": "ID", "order": "DESC"})
    assert everyone["total"] > users["total"]  # fired managers are listed too
    assert isinstance(everyone["result"][0]["UF_DEPARTMENT"], list)
    assert int(everyone["result"][0]["ID"]) == everyone["total"]
    top = demo.call("user.get", {"ID": 1})["result"]
    assert [u["ID"] for u in top] == ["1"]
    departments = demo.call("department.get", {"PARENT": 1})["result"]
    assert {d["NAME"] for d in departments} >= {"Оптовый отдел"}
    assert isinstance(departments[0]["SORT"], int) and isinstance(departments[0]["ID"], str)
