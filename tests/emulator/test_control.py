"""Control endpoints: clock, reset, faults, stats, live activity, config."""

import time

import pytest
import requests


def test_clock_can_be_read_set_frozen_and_advanced(emulator):
    real = emulator.control("GET", "clock")
    assert abs(real["unix"] - time.time()) < 5 and real["frozen"] is False
    state = emulator.control("POST", "clock", {"set": "2024-04-23T01:30:00+03:00",
                                               "frozen": True})
    assert state["now"] == "2024-04-23T01:30:00+03:00"
    assert emulator.call("server.time")["result"] == "2024-04-23T01:30:00+03:00"
    emulator.control("POST", "clock", {"advance_seconds": 90})
    assert emulator.call("server.time")["result"] == "2024-04-23T01:31:30+03:00"
    running = emulator.control("POST", "clock", {"set": "2030-01-01T00:00:00+03:00"})
    assert running["frozen"] is False and running["now"].startswith("2030-01-01T00:00")
    bad = requests.post(f"{emulator.base}/_emulator/clock", json={"set": "tomorrow"}, timeout=10)
    assert bad.status_code == 400


def test_reset_loads_an_empty_portal_as_a_new_one_is(emulator):
    counts = emulator.reset("empty")
    assert counts == {"dataset": "empty", "leads": 0, "deals": 0, "lead_history": 0,
                      "deal_history": 0, "users": 1}
    stages = emulator.call("crm.status.list", {"filter": {"ENTITY_ID": "STATUS"}})["result"]
    assert [s["STATUS_ID"] for s in stages] == ["NEW", "IN_PROCESS", "PROCESSED", "CONVERTED",
                                                "JUNK"]
    assert emulator.call("user.get")["result"][0]["ID"] == "1"


def test_stats_count_http_requests_calls_and_rows(demo):
    demo.call("crm.lead.list", {"start": -1})
    demo.call("batch", {"cmd": {"a": "crm.deal.list?start=-1", "b": "server.time"}})
    requests.get(f"{demo.base}/rest/1/wrong/server.time", timeout=10)
    stats = demo.stats()
    assert stats["http_requests"] == 3
    assert stats["http_by_method"] == {"crm.lead.list": 1, "batch": 1, "server.time": 1}
    assert stats["calls_by_method"] == {"crm.lead.list": 1, "batch": 1, "crm.deal.list": 1,
                                        "server.time": 1}
    assert stats["rows_returned"] == {"crm.lead.list": 50, "crm.deal.list": 50}
    assert stats["errors"] == {"INVALID_CREDENTIALS": 1}
    assert demo.control("DELETE", "stats")["http_requests"] == 0


def _faults(emulator, *specs, seed=None):
    body = {"faults": list(specs)}
    if seed is not None:
        body["seed"] = seed
    return emulator.control("POST", "faults", body)


def test_fault_http_500_strikes_the_next_n_calls_of_a_method(emulator):
    _faults(emulator, {"kind": "http_500", "method": "server.time", "count": 2})
    codes = [emulator.post("server.time").status_code for _ in range(3)]
    assert codes == [500, 500, 200]
    assert emulator.post("crm.lead.list").status_code == 200
    assert emulator.control("GET", "faults")["faults"] == []


def test_fault_html_body(emulator):
    _faults(emulator, {"kind": "html", "count": 1})
    r = emulator.post("crm.lead.list")
    assert r.status_code == 502 and r.text.startswith("<html>")
    with pytest.raises(ValueError):
        r.json()


def test_fault_slow_answer(emulator):
    _faults(emulator, {"kind": "slow", "delay_seconds": 1.0, "count": 1})
    started = time.monotonic()
    assert emulator.post("server.time").status_code == 200
    assert time.monotonic() - started >= 1.0


def test_fault_dropped_connection(emulator):
    _faults(emulator, {"kind": "drop", "method": "batch", "count": 1})
    with pytest.raises(requests.exceptions.RequestException):
        emulator.post("batch", {"cmd": {"a": "server.time"}})
    assert emulator.post("batch", {"cmd": {"a": "server.time"}}).status_code == 200
    assert emulator.stats()["faults_injected"] == {"drop": 1}


def test_fault_error_code_for_a_method_also_inside_batch(emulator):
    _faults(emulator, {"kind": "error", "method": "crm.deal.list", "count": 2,
                       "error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests",
                       "status": 503})
    r = emulator.post("crm.deal.list")
    assert r.status_code == 503 and r.json()["error"] == "QUERY_LIMIT_EXCEEDED"
    batch = emulator.call("batch", {"cmd": {"a": "crm.deal.list", "b": "crm.lead.list"}})
    assert set(batch["result"]["result_error"]) == {"a"}
    assert emulator.post("crm.deal.list").status_code == 200


def test_fault_random_fraction_is_seeded(emulator):
    def run():
        emulator.control("DELETE", "faults")
        _faults(emulator, {"kind": "http_500", "probability": 0.3}, seed=7)
        return [emulator.post("server.time").status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert 4 <= first.count(500) <= 20
    emulator.control("DELETE", "faults")
    assert emulator.post("server.time").status_code == 200


def test_fault_spec_is_validated(emulator):
    r = requests.post(f"{emulator.base}/_emulator/faults", json={"kind": "meteor"}, timeout=10)
    assert r.status_code == 400 and "kind" in r.json()["error_description"]


def test_live_activity_changes_the_portal(demo):
    before = demo.control("GET", "health")["counts"]
    started = demo.call("server.time")["result"]
    max_modify = demo.call("crm.lead.list", {"order": {"DATE_MODIFY": "DESC"},
                                             "select": ["DATE_MODIFY"]})["result"][0]
    # the emulator counts ticks and changes over its life: an earlier test on this worker may
    # have run live activity too, so this test counts from what they are now
    baseline = demo.control("POST", "live", {"enabled": False})
    demo.control("POST", "live", {"enabled": True, "interval_seconds": 0.05})
    time.sleep(1.0)
    state = demo.control("POST", "live", {"enabled": False})
    ticks = state["ticks"] - baseline["ticks"]
    assert ticks >= 5 and state["changes"] - baseline["changes"] >= ticks
    after = demo.control("GET", "health")["counts"]
    assert after["lead_history"] > before["lead_history"]
    assert after["activity"] > before["activity"]  # managers answer the new leads
    assert demo.call("crm.activity.list", {"filter": {">=CREATED": started}})["total"] > 0
    new_leads = demo.call("crm.lead.list", {"filter": {">=DATE_CREATE": started}})["total"]
    assert new_leads >= ticks // 2  # a lead a tick, a few deleted again
    newest = demo.call("crm.lead.list", {"order": {"DATE_MODIFY": "DESC"},
                                         "select": ["DATE_MODIFY"]})["result"][0]
    assert newest["DATE_MODIFY"] > max_modify["DATE_MODIFY"]
