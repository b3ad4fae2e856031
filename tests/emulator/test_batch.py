"""`batch`: up to 50 commands, references between them, halt, and PHP-shaped result maps."""

import requests


def _leads(emulator, n):
    for i in range(n):
        emulator.call("crm.lead.add", {"fields": {"TITLE": f"L{i}"}})


def test_batch_runs_commands_and_fills_the_five_maps(emulator):
    _leads(emulator, 60)
    body = emulator.call("batch", {"halt": 0, "cmd": {
        "page": "crm.lead.list?select[]=ID&order[ID]=ASC",
        "one": "crm.lead.get?id=3",
    }})
    result = body["result"]
    assert [r["ID"] for r in result["result"]["page"]][:2] == ["1", "2"]
    assert result["result"]["one"]["TITLE"] == "L2"
    assert result["result_total"] == {"page": 60}
    assert result["result_next"] == {"page": 50}
    assert result["result_error"] == []
    assert set(result["result_time"]) == {"page", "one"}


def test_empty_result_maps_are_json_arrays(emulator):
    body = emulator.call("batch", {"cmd": {"t": "server.time"}})["result"]
    assert body["result_error"] == [] and body["result_total"] == [] and body["result_next"] == []


def test_a_list_of_commands_gives_list_shaped_results(emulator):
    body = emulator.call("batch", {"cmd": ["server.time", "server.time"]})["result"]
    assert isinstance(body["result"], list) and len(body["result"]) == 2


def test_result_references_chain_keyset_pages(emulator):
    _leads(emulator, 120)
    cmd = {"p1": "crm.lead.list?select[]=ID&order[ID]=ASC&start=-1"}
    for i in range(2, 4):
        cmd[f"p{i}"] = (f"crm.lead.list?select[]=ID&order[ID]=ASC&start=-1"
                        f"&filter[>ID]=$result[p{i - 1}][49][ID]")
    result = emulator.call("batch", {"cmd": cmd})["result"]["result"]
    got = [int(r["ID"]) for key in ("p1", "p2", "p3") for r in result[key]]
    assert got == list(range(1, 121))


def test_a_reference_past_the_end_stops_at_the_last_value_found_and_matches_nothing(emulator):
    _leads(emulator, 10)
    body = emulator.call("batch", {"cmd": {
        "p1": "crm.lead.list?select[]=ID&order[ID]=ASC&start=-1",
        "p2": "crm.lead.list?select[]=ID&start=-1&filter[>ID]=$result[p1][49][ID]",
    }})
    assert len(body["result"]["result"]["p1"]) == 10
    assert body["result"]["result"]["p2"] == []


def test_references_into_total_and_inside_strings(emulator):
    _leads(emulator, 7)
    body = emulator.call("batch", {"cmd": {
        "count": "crm.lead.list?select[]=ID",
        "last": "crm.lead.get?id=$total[count]",
        "title": "crm.lead.list?filter[TITLE]=L$result[last][ID]&select[]=TITLE",
    }})["result"]["result"]
    assert body["last"]["ID"] == "7"
    assert body["title"] == []  # "L7" does not exist: titles are L0..L6
    body = emulator.call("batch", {"cmd": {
        "a": "crm.lead.get?id=3",
        "b": "crm.lead.list?filter[TITLE]=L$result[a][ID]&select[]=ID",
    }})["result"]["result"]
    assert body["b"] == [{"ID": "4"}]


def test_failures_land_in_result_error_and_the_http_status_stays_200(emulator):
    response = emulator.post("batch", {"cmd": {
        "bad": "crm.lead.get?id=999",
        "nested": "batch?cmd[x]=server.time",
        "unknown": "crm.nothing.list",
        "ok": "server.time",
    }})
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["result_error"] == {
        "bad": {"error": "", "error_description": "Not found"},
        "nested": {"error": "ERROR_BATCH_METHOD_NOT_ALLOWED",
                   "error_description": "Method is not allowed for batch usage"},
        "unknown": {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"},
    }
    assert set(result["result"]) == {"ok"}


def test_halt_stops_at_the_first_failure(emulator):
    result = emulator.call("batch", {"halt": 1, "cmd": {
        "a": "server.time", "b": "crm.lead.get?id=999", "c": "server.time"}})["result"]
    assert set(result["result"]) == {"a"} and set(result["result_error"]) == {"b"}


def test_commands_past_fifty_fail_with_batch_length_exceeded(emulator):
    cmd = {f"c{i}": "server.time" for i in range(53)}
    result = emulator.call("batch", {"cmd": cmd})["result"]
    assert len(result["result"]) == 50
    assert set(result["result_error"]) == {"c50", "c51", "c52"}
    assert result["result_error"]["c50"]["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"


def test_batch_is_one_http_request_and_fifty_calls(emulator):
    _leads(emulator, 3)
    emulator.control("DELETE", "stats")
    emulator.call("batch", {"cmd": {f"c{i}": "crm.lead.list?start=-1" for i in range(50)}})
    stats = emulator.stats()
    assert stats["http_requests"] == 1
    assert stats["calls_by_method"]["crm.lead.list"] == 50
    assert stats["rows_returned"]["crm.lead.list"] == 150


def test_batch_commands_in_a_form_body_are_decoded_twice(emulator):
    _leads(emulator, 2)
    form = "cmd[a]=crm.lead.list%3Fselect%5B%5D%3DTITLE%26filter%5BID%5D%3D2"
    r = requests.post(emulator.webhook + "batch", data=form, timeout=10,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.json()["result"]["result"]["a"] == [{"ID": "2", "TITLE": "L1"}]
