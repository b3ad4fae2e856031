"""The event receiver: what it takes as a portal's event, and what it refuses, over HTTP."""

import pytest
import requests

from emulator.testing import free_port
from orchestration.worker import events

TOKEN = "app-token-5e1f"
TOKENS = {"main": TOKEN}


def _form(record_id: str, event: str = "ONCRMLEADDELETE", token: str = TOKEN) -> bytes:
    from urllib.parse import urlencode

    return urlencode({"event": event, "data[FIELDS][ID]": record_id,
                      "auth[application_token]": token}).encode()


@pytest.mark.parametrize("text", ["12", "2147483647", "007"])
def test_ascii_ids_in_the_portals_range_are_record_ids(text):
    assert events.parse(_form(text), TOKENS) == events.Event("leads", "DELETE", int(text))


@pytest.mark.parametrize(
    "text",
    ["", "0", "-5", "2147483648", "9999999999999999999999999", "9" * 5000, "²", "١٢", "12 ",
     "1e3", "0x10", "+7"],
)
def test_anything_else_is_refused_as_a_bad_request(text):
    """Regression: `²` and 5,000 digits passed `isdigit()` and failed `int()` (a 500 with a
    traceback), `١٢` was taken as lead 12, and 25 digits were queued and blocked the worker."""
    assert events.record_id(text) is None
    with pytest.raises(events.Refused) as refused:
        events.parse(_form(text), TOKENS)
    assert refused.value.status == 400


def test_the_receiver_answers_odd_ids_with_one_line_and_queues_nothing():
    queued = []
    port = free_port()
    server = events.serve(lambda: TOKENS, queued.append, "127.0.0.1", port)
    url = f"http://127.0.0.1:{port}{events.PATH}"
    try:
        for text in ("²", "9" * 5000, "١٢", "9999999999999999999999999"):
            answer = requests.post(url, data=_form(text), timeout=10)
            assert answer.status_code == 400, text
            assert "Traceback" not in answer.text and "\n" not in answer.text.strip()
        assert requests.post(url, data=_form("12"), timeout=10).status_code == 200
        assert requests.post(url, data=_form("12", token="forged"), timeout=10).status_code == 403
    finally:
        server.should_exit = True
    assert queued == [events.Event("leads", "DELETE", 12)]


def test_an_event_the_queue_cannot_take_is_answered_503_without_a_traceback():
    def full_disk(event):
        raise OSError(28, "No space left on device")

    port = free_port()
    server = events.serve(lambda: TOKENS, full_disk, "127.0.0.1", port)
    try:
        answer = requests.post(f"http://127.0.0.1:{port}{events.PATH}", data=_form("12"),
                               timeout=10)
    finally:
        server.should_exit = True
    assert answer.status_code == 503 and answer.text == "event not queued"


def test_the_token_tells_which_portal_sent_the_event_whatever_the_domain_says():
    """Each portal's outgoing webhook shows a token of its own; `auth[domain]` anyone can write."""
    tokens = {"main": TOKEN, "north": "north-token-77aa", "east": "east-token-0b3c"}
    body = _form("12", event="ONCRMDEALUPDATE", token="north-token-77aa")
    forged_domain = body + b"&auth%5Bdomain%5D=main.bitrix24.ru"
    for sent in (body, forged_domain):
        assert events.parse(sent, tokens) == events.Event("deals", "UPDATE", 12, "north")
    for token in ("", "north-token-77a", "north-token-77aa0", TOKEN.upper()):
        with pytest.raises(events.Refused) as refused:
            events.parse(_form("12", token=token), tokens)
        assert refused.value.status == 403
    with pytest.raises(events.Refused):  # a portal with no token hears nothing
        events.parse(_form("12", token=""), {})
