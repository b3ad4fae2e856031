"""Outbound events: `event.bind` / `event.get` / `event.unbind`, and the form-encoded POST a
portal sends on a lead or deal add, update and delete (docs/bitrix24-api.md §8)."""

import time

import pytest

from tests.support import AlertReceiver

LEAD_EVENTS = ("ONCRMLEADADD", "ONCRMLEADUPDATE", "ONCRMLEADDELETE")


@pytest.fixture
def handler():
    receiver = AlertReceiver()
    yield receiver
    receiver.close()


def _wait_for(emulator, delivered: int, failed: int = 0) -> dict:
    deadline = time.time() + 20
    while time.time() < deadline:
        state = emulator.control("GET", "events")
        if state["delivered"] >= delivered and state["failed"] >= failed and not state["pending"]:
            return state
        time.sleep(0.05)
    raise AssertionError(f"events not delivered: {state}")


def test_bound_handler_gets_each_lead_change_form_encoded_with_the_application_token(
    emulator, handler
):
    for event in LEAD_EVENTS:
        assert emulator.call("event.bind", {"event": event, "handler": handler.url})["result"]
    lead = emulator.call("crm.lead.add", {"fields": {"TITLE": "a"}})["result"]
    emulator.call("crm.lead.update", {"id": lead, "fields": {"TITLE": "b"}})
    emulator.call("crm.lead.delete", {"id": lead})
    state = _wait_for(emulator, delivered=3)
    forms = [r["form"] for r in handler.received]
    assert [f["event"] for f in forms] == list(LEAD_EVENTS)
    assert {f["data[FIELDS][ID]"] for f in forms} == {str(lead)}
    assert {f["auth[application_token]"] for f in forms} == {state["application_token"]}
    assert all(f["ts"].isdigit() and f["auth[member_id]"] and f["event_handler_id"]
               for f in forms)


def test_event_get_lists_bindings_and_unbind_removes_the_matching_ones(emulator, handler):
    for event in ("ONCRMDEALADD", "ONCRMDEALUPDATE"):
        emulator.call("event.bind", {"event": event, "handler": handler.url})
    bound = emulator.call("event.get")["result"]
    assert [(b["event"], b["handler"], b["offline"]) for b in bound] == [
        ("ONCRMDEALADD", handler.url, 0), ("ONCRMDEALUPDATE", handler.url, 0)]
    assert emulator.call("event.unbind", {"event": "ONCRMDEALADD"})["result"] == {"count": 1}
    assert [b["event"] for b in emulator.call("event.get")["result"]] == ["ONCRMDEALUPDATE"]
    emulator.call("crm.deal.add", {"fields": {"TITLE": "no handler for adds"}})
    time.sleep(0.3)
    assert handler.received == []


def test_binding_an_unknown_or_offline_event_is_refused_as_documented(emulator, handler):
    unknown = emulator.post("event.bind", {"event": "ONSOMETHING", "handler": handler.url})
    assert (unknown.status_code, unknown.json()["error"]) == (400, "ERROR_EVENT_NOT_FOUND")
    offline = emulator.post("event.bind", {"event": "ONCRMLEADADD", "event_type": "offline"})
    assert (offline.status_code, offline.json()["error"]) == (403, "ACCESS_DENIED")


def test_repairs_behind_the_api_are_not_announced(emulator, handler):
    emulator.call("event.bind", {"event": "ONCRMLEADUPDATE", "handler": handler.url})
    lead = emulator.call("crm.lead.add", {"fields": {"TITLE": "a"}})["result"]
    emulator.control("POST", f"repair/lead/{lead}", {"fields": {"UTM_SOURCE": "fixed"}})
    time.sleep(0.3)
    assert handler.received == []


def test_an_event_the_handler_misses_is_not_retried(emulator, handler):
    emulator.call("event.bind", {"event": "ONCRMLEADADD", "handler": handler.url})
    handler.close()  # the handler is down
    emulator.call("crm.lead.add", {"fields": {"TITLE": "lost"}})
    state = _wait_for(emulator, delivered=0, failed=1)
    time.sleep(0.5)
    assert emulator.control("GET", "events")["failed"] == 1 == state["queued"]
