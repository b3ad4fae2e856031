"""Webhook auth, transports and the envelope, over real HTTP."""

import requests


def test_webhook_call_answers_the_documented_envelope(emulator):
    body = emulator.call("server.time")
    assert set(body) == {"result", "time"}
    assert body["result"][-6:] == "+03:00"
    assert {"start", "finish", "duration", "processing", "date_start", "date_finish"} <= set(
        body["time"]
    )


def test_wrong_secret_answers_invalid_credentials_with_401_or_the_configured_403(emulator):
    url = f"{emulator.base}/rest/1/not-the-secret/server.time.json"
    r = requests.get(url, timeout=10)
    assert r.status_code == 401
    assert r.json() == {
        "error": "INVALID_CREDENTIALS",
        "error_description": "Invalid request credentials",
    }
    emulator.configure(auth_error_status=403)
    assert requests.get(url, timeout=10).status_code == 403


def test_wrong_user_id_is_refused_like_a_wrong_secret(emulator):
    r = requests.get(f"{emulator.base}/rest/7/{emulator.secret}/server.time", timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "INVALID_CREDENTIALS"


def test_missing_auth_answers_no_auth_found(emulator):
    r = requests.get(f"{emulator.base}/rest/server.time.json", timeout=10)
    assert r.status_code == 401
    assert r.json() == {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}


def test_token_without_user_id_answers_method_not_found(emulator):
    r = requests.get(f"{emulator.base}/rest/{emulator.secret}/server.time", timeout=10)
    assert r.status_code == 404
    assert r.json() == {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}


def test_unknown_method_answers_method_not_found(emulator):
    r = emulator.post("crm.lead.frobnicate")
    assert r.status_code == 404 and r.json()["error"] == "ERROR_METHOD_NOT_FOUND"


def test_error_answers_never_contain_the_secret(emulator):
    for url in (f"{emulator.webhook}nope.json", f"{emulator.base}/rest/1/x/server.time"):
        assert emulator.secret not in requests.get(url, timeout=10).text


def test_json_suffix_and_method_case_are_optional(emulator):
    for method in ("server.time", "server.time.json", "SERVER.TIME"):
        r = requests.get(emulator.webhook + method, timeout=10)
        assert r.status_code == 200 and "result" in r.json()
        assert r.headers["content-type"] == "application/json; charset=utf-8"


def _add_leads(emulator, n):
    return [
        emulator.call("crm.lead.add", {"fields": {"TITLE": f"Lead {i}"}})["result"]
        for i in range(n)
    ]


def test_get_query_string_form_body_and_json_body_give_the_same_answer(emulator):
    _add_leads(emulator, 3)
    url = emulator.webhook + "crm.lead.list.json"
    query = "filter[>ID]=1&select[]=ID&select[]=TITLE&order[ID]=DESC"
    by_get = requests.get(f"{url}?{query}", timeout=10).json()["result"]
    by_form = requests.post(
        url, data=query, timeout=10, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    by_json = requests.post(
        url,
        json={"filter": {">ID": 1}, "select": ["ID", "TITLE"], "order": {"ID": "DESC"}},
        timeout=10,
    )
    by_multipart = requests.post(
        url,
        files={"filter[>ID]": (None, "1"), "select[]": (None, "ID"), "order[ID]": (None, "DESC")},
        timeout=10,
    )
    assert [r["ID"] for r in by_get] == ["3", "2"]
    assert by_form.json()["result"] == by_get
    assert by_json.json()["result"] == by_get
    assert [r["ID"] for r in by_multipart.json()["result"]] == ["3", "2"]


def test_query_string_and_body_parameters_are_merged(emulator):
    _add_leads(emulator, 3)
    r = requests.post(
        emulator.webhook + "crm.lead.list?filter[>ID]=2", json={"select": ["ID"]}, timeout=10
    )
    assert r.json()["result"] == [{"ID": "3"}]


def test_malformed_json_body_counts_as_no_parameters(emulator):
    _add_leads(emulator, 2)
    r = requests.post(
        emulator.webhook + "crm.lead.list",
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["total"] == 2


def test_top_level_parameter_names_are_case_insensitive(emulator):
    _add_leads(emulator, 3)
    for key in ("filter", "FILTER", "Filter"):
        body = emulator.call("crm.lead.list", {key: {"ID": 2}, "SELECT": ["ID"]})
        assert body["result"] == [{"ID": "2"}]
