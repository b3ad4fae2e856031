"""The leaky bucket and the operating-time budget."""

import time


def test_leaky_bucket_refuses_past_the_burst_then_drains(emulator):
    emulator.configure(rate_limit={"enabled": True, "rate": 2, "burst": 5})
    statuses = [emulator.post("server.time").status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [503, 503]
    refused = emulator.post("server.time").json()
    assert refused == {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
    time.sleep(1.1)  # 2 req/s drain: two more fit
    assert [emulator.post("server.time").status_code for _ in range(3)] == [200, 200, 503]


def test_a_batch_counts_once_in_the_bucket(emulator):
    emulator.configure(rate_limit={"enabled": True, "rate": 0.01, "burst": 2})
    for _ in range(2):
        body = emulator.call("batch", {"cmd": {f"c{i}": "server.time" for i in range(50)}})
        assert len(body["result"]["result"]) == 50
    assert emulator.post("server.time").status_code == 503


def test_operating_time_limit_blocks_the_method_until_reset(emulator):
    emulator.configure(operating_limit={"enabled": True, "limit_seconds": 0.000001})
    first = emulator.call("crm.lead.list")
    assert "operating" in first["time"] and "operating_reset_at" in first["time"]
    blocked = emulator.post("crm.lead.list")
    assert blocked.status_code == 429
    assert blocked.json() == {"error": "OPERATION_TIME_LIMIT",
                              "error_description": "Method is blocked due to operation time limit."}
    assert emulator.post("crm.deal.list").status_code == 200  # other methods still work
    reset_at = first["time"]["operating_reset_at"]
    now = emulator.control("GET", "clock")["unix"]
    emulator.control("POST", "clock", {"advance_seconds": reset_at - now + 1})
    assert emulator.post("crm.lead.list").status_code == 200


def test_operating_limit_inside_a_batch_lands_in_result_error(emulator):
    emulator.configure(operating_limit={"enabled": True, "limit_seconds": 0.000001})
    emulator.call("crm.lead.list")
    result = emulator.call("batch", {"cmd": {"a": "crm.lead.list", "b": "server.time"}})["result"]
    assert result["result_error"]["a"]["error"] == "OPERATION_TIME_LIMIT"
    assert "b" in result["result"]


def test_limits_are_off_when_switched_off(emulator):
    emulator.configure(rate_limit={"enabled": False}, operating_limit={"enabled": False})
    assert all(emulator.post("server.time").status_code == 200 for _ in range(80))
    assert "operating" not in emulator.call("server.time")["time"]
