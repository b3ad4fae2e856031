"""Pure functions: PHP query strings, filter keys, the portal's datetime format."""

import pytest

from emulator.portal.phpquery import parse_qs_php
from emulator.portal.portal import php_array, substitute
from emulator.store.clock import PortalClock
from emulator.store.query import split_key


def test_php_query_strings_nest_like_parse_str():
    assert parse_qs_php("filter[>ID]=5&select[]=ID&select[]=TITLE&order[ID]=ASC&start=-1") == {
        "filter": {">ID": "5"}, "select": ["ID", "TITLE"], "order": {"ID": "ASC"}, "start": "-1"}
    assert parse_qs_php("fields[PHONE][0][VALUE]=%2B7+900&a=b%26c") == {
        "fields": {"PHONE": [{"VALUE": "+7 900"}]}, "a": "b&c"}
    assert parse_qs_php("filter[ID][0]=1&filter[ID][1]=2") == {"filter": {"ID": ["1", "2"]}}


@pytest.mark.parametrize(("key", "expected"), [
    ("ID", ("eq", "ID")), ("!=%TITLE", ("not_like_raw", "TITLE")), ("!%=TITLE", ("not_like_raw",
    "TITLE")), (">=DATE_MODIFY", (">=", "DATE_MODIFY")), ("!@ID", ("not_in", "ID")),
    ("%TITLE", ("like", "TITLE")), ("=%TITLE", ("like_raw", "TITLE")), ("!ID", ("ne", "ID")),
])
def test_filter_keys_split_into_operator_and_field(key, expected):
    assert split_key(key) == expected


def test_portal_datetime_format_and_parsing():
    clock = PortalClock("Europe/Moscow")
    ts = clock.parse("2024-04-23T01:30:00+03:00")
    assert clock.format(ts) == "2024-04-23T01:30:00+03:00"
    assert clock.local_date(ts) == "2024-04-23"  # not the 22nd, as UTC would say
    assert clock.parse("2024-04-22T22:30:00Z") == ts
    assert clock.parse("2024-04-23T01:30:00") == ts  # no offset: the portal's zone
    assert clock.parse("") is None and clock.parse("soon") is None
    assert clock.format(None) == ""
    assert clock.format_date("2024-09-09") == "2024-09-09T03:00:00+03:00"
    ny = PortalClock("America/New_York")
    assert ny.format_date("2024-09-09") == "2024-09-08T20:00:00-04:00"  # the documented quirk


def test_php_arrays_serialise_like_json_encode():
    assert php_array({}) == []
    assert php_array({"0": "a", "1": "b"}) == ["a", "b"]
    assert php_array({"x": 1}) == {"x": 1}


def test_batch_references_follow_process_batch_element():
    refs = {"result": {"a": [{"ID": "7"}], "b": {"ID": "9"}}, "next": {}, "total": {"a": 3},
            "time": {}, "error": {}}
    assert substitute({"filter": {">ID": "$result[a][0][ID]"}}, refs) == {"filter": {">ID": "7"}}
    assert substitute("x$result[b][ID]", refs) == "x9"
    assert substitute("x$result[b][ID]y z", refs) == "x9 z"  # PHP's pattern runs to a space
    assert substitute("$result[a][49][ID]", refs) == [{"ID": "7"}]  # stops at the last found
    assert substitute("$total[a]", refs) == 3


@pytest.mark.parametrize("zone", ["Europe/Moscow", "America/New_York", "Asia/Yekaterinburg"])
def test_datetimes_formatted_by_sqlite_equal_the_exact_python_format(zone):
    import sqlite3

    clock = PortalClock(zone)
    db = sqlite3.connect(":memory:")
    db.create_function("bx_datetime", 1, clock.format)
    instants = [None, 0, 1_300_000_000, 1_416_000_000, 1_713_825_000, 1_720_000_000,
                2_200_000_000, 2_300_000_000]
    sql = clock.sql_format("v")
    got = [db.execute(f"SELECT {sql} FROM (SELECT ? AS v)", (ts,)).fetchone()[0]
           for ts in instants]
    assert got == [clock.format(ts) for ts in instants]
