"""Backfill: re-reading a window of creation dates finds repairs that did not move DATE_MODIFY."""

from datetime import date

import pytest

from orchestration.pipeline import operations
from tests.warehouse import scalar, sync, table


def backfill(settings, since, until=None, entities=("leads", "deals")):
    window = operations.BackfillWindow(since, until, entities)
    return operations.load(settings, operations.Backfill(window), rate_per_second=0)


def test_backfill_loads_only_the_records_repaired_behind_the_api(warehouse, demo):
    sync(warehouse)
    lead = demo.records("lead")[10]
    before = {r["version_key"]: r["observed_at"] for r in table(warehouse, "lead_versions")
              if r["id"] == int(lead["ID"])}
    demo.control("POST", f"repair/lead/{lead['ID']}", {"fields": {"UTM_CAMPAIGN": "fixed_2024"}})
    assert sync(warehouse) == {}  # DATE_MODIFY did not move: the incremental pass sees nothing

    run = backfill(warehouse, date.fromisoformat(lead["DATE_CREATE"][:10]))
    assert run.rows == {"leads": 1, "lead_versions": 1}  # every other record is as held
    assert scalar(warehouse, f"select utm_campaign from bitrix_raw.leads where id = {lead['ID']}") \
        == "fixed_2024"
    versions = {r["version_key"]: r["observed_at"] for r in table(warehouse, "lead_versions")
                if r["id"] == int(lead["ID"])}
    assert len(versions) == len(before) + 1
    assert all(versions[k] == observed for k, observed in before.items())  # history kept
    assert sync(warehouse) == {}  # the incremental cursor did not move


def test_backfill_reads_only_its_window_and_entities(warehouse, demo):
    sync(warehouse)
    demo.call("crm.lead.add", {"fields": {"TITLE": "new"}})
    # a window long before the demo company existed reads nothing
    assert backfill(warehouse, date(2001, 1, 1), date(2001, 2, 1)).rows == {}
    deals_only = backfill(warehouse, date(2001, 1, 1), entities=("deals",))
    assert "leads" not in deals_only.rows


def test_backfill_refuses_an_empty_window_and_unknown_entities(warehouse, demo):
    with pytest.raises(ValueError, match="window is empty"):
        backfill(warehouse, date(2024, 3, 1), date(2024, 3, 1))
    with pytest.raises(ValueError, match="choose from leads, deals"):
        backfill(warehouse, date(2024, 3, 1), entities=("contacts",))
