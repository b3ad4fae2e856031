"""The protocol client: query strings, parsing, the bucket, retries, waits, redaction."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import requests

from emulator.portal.phpquery import parse_qs_php
from emulator.testing import free_port
from sources.bitrix24.client import BitrixClient, LeakyBucket
from sources.bitrix24.errors import BitrixAuthError, BitrixRetryableError
from sources.bitrix24.helpers import (
    clean_crm_record,
    parse_date,
    parse_datetime,
    parse_money,
    php_query,
)
from sources.bitrix24.paging import Stream, read_streams


def test_php_query_round_trips_through_a_php_style_parser():
    params = {"filter": {">=DATE_MODIFY": "2024-04-23T01:30:00+03:00", "@ID": [1, 2]},
              "select": ["*", "UF_*"], "order": {"ID": "ASC"}, "start": -1,
              "ref": "$result[p1][items][49][ID]", "flag": True}
    assert parse_qs_php(php_query(params)) == {
        "filter": {">=DATE_MODIFY": "2024-04-23T01:30:00+03:00", "@ID": ["1", "2"]},
        "select": ["*", "UF_*"], "order": {"ID": "ASC"}, "start": "-1",
        "ref": "$result[p1][items][49][ID]", "flag": "Y"}


def test_portal_values_parse_to_utc_dates_and_decimals():
    assert parse_datetime("2024-04-23T01:30:00+03:00") == datetime(2024, 4, 22, 22, 30, tzinfo=UTC)
    assert parse_datetime("") is None
    assert parse_date("2024-09-09T03:00:00+03:00") == date(2024, 9, 9)
    assert parse_money("15000.00") == Decimal("15000.00")
    for bad in ("abc", "12 500 руб.", "NaN"):
        with pytest.raises(ValueError):
            parse_money(bad)
    with pytest.raises(ValueError):
        parse_datetime("2024-04-23 01:30")  # no offset: not what a portal sends


def test_a_record_keeps_bad_values_raw_and_flags_them():
    record = clean_crm_record(
        {"ID": "7", "OPPORTUNITY": "abc", "DATE_CREATE": "", "DATE_MODIFY": "yesterday",
         "DATE_CLOSED": "", "ASSIGNED_BY_ID": "5", "TITLE": "x"},
        datetimes=("DATE_CREATE", "DATE_MODIFY", "DATE_CLOSED"), dates=())
    assert record["ID"] == 7 and record["ASSIGNED_BY_ID"] == 5 and record["TITLE"] == "x"
    assert record["OPPORTUNITY"] is None and record["DATE_MODIFY"] is None
    assert record["DATE_CLOSED"] is None  # empty and optional: not a flag
    assert record["bad_values"] == {"OPPORTUNITY": "abc", "DATE_CREATE": "",
                                    "DATE_MODIFY": "yesterday"}
    assert clean_crm_record({"ID": "8", "OPPORTUNITY": "1.50"}, (), ())["bad_values"] is None
    with pytest.raises(ValueError):
        clean_crm_record({"TITLE": "no id"}, (), ())


def test_leaky_bucket_lets_a_burst_through_then_paces_at_the_rate():
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    bucket = LeakyBucket(rate=2, burst=5, clock=lambda: now[0], sleep=sleep)
    waits = [bucket.acquire() for _ in range(8)]
    assert waits[:4] == [0.0] * 4  # burst 5 less one request of headroom
    assert waits[4:] == pytest.approx([0.5] * 4)
    now[0] += 10  # drained
    assert bucket.acquire() == 0.0


def test_stream_puts_the_keyset_condition_where_each_method_reads_it():
    lead = Stream("leads", "crm.lead.list", {"filter": {">=DATE_MODIFY": "x"}})
    assert lead.params_after(5) == {"filter": {">=DATE_MODIFY": "x", ">ID": 5},
                                    "order": {"ID": "ASC"}}
    user = Stream("users", "user.get", {}, id_filter=("FILTER", ">ID"),
                  order={"sort": "ID", "order": "ASC"})
    assert user.params_after(3) == {"FILTER": {">ID": 3}, "sort": "ID", "order": "ASC"}
    with pytest.raises(BitrixRetryableError):
        Stream("h", "crm.stagehistory.list", wrapper="items").rows_of({"items": "oops"})


def test_reads_every_stream_with_chained_keyset_pages_in_few_requests(emulator):
    for i in range(130):
        emulator.call("crm.lead.add", {"fields": {"TITLE": f"L{i}"}})
    for i in range(10):
        emulator.call("crm.deal.add", {"fields": {"TITLE": f"D{i}"}})
    emulator.control("DELETE", "stats")
    client = BitrixClient(emulator.webhook, rate=0)
    streams = [Stream("leads", "crm.lead.list", {"select": ["ID"]}),
               Stream("deals", "crm.deal.list", {"select": ["ID"]})]
    read = read_streams(client, streams)
    assert read.server_time > 0  # the portal's server.time, taken before any row is read
    ids = {"leads": [], "deals": []}
    for page in read:
        ids[page.stream] += [int(r["ID"]) for r in page.rows]
    assert ids == {"leads": list(range(1, 131)), "deals": list(range(1, 11))}
    assert emulator.stats()["http_requests"] == 2  # first pages + counts, then the rest


def test_a_chain_broken_by_deletions_ends_its_stream_though_the_portal_refuses_its_links(
    emulator,
):
    """Regression: records deleted while a pass pages leave a short page inside a chain; the
    next links name `$result[prev][items][49][ID]`, which no row has, and an ORM list such as
    crm.stagehistory.list refuses them (INVALID_ARG_VALUE). That refusal failed the pass."""
    leads = [emulator.call("crm.lead.add", {"fields": {"TITLE": f"L{i}"}})["result"]
             for i in range(170)]
    client = BitrixClient(emulator.webhook, rate=0)
    stream = Stream("history", "crm.stagehistory.list", {"entityTypeId": 1}, wrapper="items")
    read = read_streams(client, [stream])  # the first page and the count: 170 rows
    for lead in leads[60:]:
        emulator.call("crm.lead.delete", {"id": lead})  # their history goes with them
    owners = [row["OWNER_ID"] for page in read for row in page.rows]
    assert owners == leads[:60]


def test_bad_credentials_are_not_retried_and_the_secret_is_not_shown(emulator):
    bad = emulator.webhook.replace(emulator.secret, "wrong-secret-123")
    client = BitrixClient(bad, rate=0, sleep=lambda s: None)
    with pytest.raises(BitrixAuthError) as caught:
        client.call("server.time")
    assert "INVALID_CREDENTIALS" in str(caught.value)
    assert "wrong-secret-123" not in str(caught.value) and "wrong-secret-123" not in repr(client)
    assert client.stats.requests == 1


@pytest.mark.parametrize(
    ("config", "says"),
    [({"scopes": ["user", "department"]}, "give the webhook the scopes crm, user, department"),
     ({"crm_access": False}, "the webhook's user needs read access to the CRM")],
)
def test_a_webhook_without_crm_rights_fails_at_once_saying_what_to_grant(emulator, config, says):
    emulator.configure(**config)
    client = BitrixClient(emulator.webhook, rate=0, sleep=lambda s: None)
    with pytest.raises(BitrixAuthError) as caught:
        client.batch({"deals": "crm.deal.list"})
    assert says in str(caught.value) and emulator.secret not in str(caught.value)
    assert client.stats.requests == 1


def test_non_json_answers_are_retried_then_reported_with_the_method(emulator):
    emulator.control("POST", "faults", {"kind": "html", "count": 10})
    client = BitrixClient(emulator.webhook, rate=0, max_attempts=3, sleep=lambda s: None)
    with pytest.raises(BitrixRetryableError) as caught:
        client.batch({"a": "crm.lead.list?start=-1"})
    assert "batch" in str(caught.value) and "non-JSON" in str(caught.value)
    assert caught.value.__context__ is None
    assert client.stats.requests == 3


def test_connection_failures_name_no_secret():
    client = BitrixClient(f"http://127.0.0.1:{free_port()}/rest/1/s3cr3t-value/", rate=0,
                          max_attempts=2, sleep=lambda s: None)
    with pytest.raises(BitrixRetryableError) as caught:
        client.call("server.time")
    assert "s3cr3t-value" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_operation_time_limit_waits_until_the_portal_frees_the_method(emulator):
    emulator.configure(operating_limit={"enabled": True, "limit_seconds": 0.000001})
    slept = []

    def sleep(seconds):  # instead of waiting, move the portal's clock on
        slept.append(seconds)
        emulator.control("POST", "clock", {"advance_seconds": seconds})

    client = BitrixClient(emulator.webhook, rate=0, sleep=sleep)
    client.call("crm.lead.list")
    assert client.call("crm.lead.list")["result"] == []
    assert len(slept) == 1 and 1 <= slept[0] <= 601
    assert emulator.stats()["errors"] == {"OPERATION_TIME_LIMIT": 1}


def test_a_malformed_webhook_url_is_refused_without_echoing_it():
    with pytest.raises(BitrixAuthError) as caught:
        BitrixClient("https://portal.example/rest/hidden-token")
    assert "hidden-token" not in str(caught.value)


def test_requests_exceptions_carry_the_url_so_the_client_hides_them(emulator):
    # The reason for the client's `from None`: requests puts the path in its messages.
    try:
        requests.get(f"http://127.0.0.1:{free_port()}/rest/1/visible/x", timeout=2)
    except requests.RequestException as exc:
        assert "visible" in str(exc)


def test_urllib3_debug_lines_are_redacted_by_one_filter_however_many_clients(emulator, caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    for _ in range(3):
        BitrixClient(emulator.webhook, rate=0).call("server.time")
    assert emulator.secret not in caplog.text and "/rest/1/***/server.time.json" in caplog.text
    assert len(logging.getLogger("urllib3.connectionpool").filters) == 1


@pytest.mark.parametrize(
    ("answer", "says"),
    [({"result": {"result": []}}, "server.time: no time in the answer"),
     ({"result": {"result": {"time": "yesterday-ish"}}},
      "server.time: the portal answered 'yesterday-ish', not a time"),
     ({"result": {"result": [], "result_error": [], "result_total": [], "result_next": []}},
      "server.time: no time in the answer")],
)
def test_a_malformed_batch_answer_fails_the_read_in_words_not_a_python_error(
    emulator, answer, says
):
    """Regression: `{"result":{"result":[]}}` (PHP's empty map) raised AttributeError and a
    garbage `server.time` raised `ValueError: Invalid isoformat string`."""
    emulator.control("POST", "faults", {"kind": "answer", "method": "batch", "body": answer})
    client = BitrixClient(emulator.webhook, rate=0, max_attempts=2, sleep=lambda s: None)
    with pytest.raises(BitrixRetryableError) as caught:  # the next pass tries again
        read_streams(client, [Stream("leads", "crm.lead.list", {"select": ["ID"]})])
    assert str(caught.value) == says
