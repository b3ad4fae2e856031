"""A first load in windows: each window committed, a kill at any point resumed from the last
committed window, the result equal to a load in one piece; the read ahead bounded."""

import threading
import time

import dlt
import pytest
import requests

from sources.bitrix24 import bitrix24_source, state
from sources.bitrix24.client import BitrixClient
from sources.bitrix24.errors import BitrixError
from sources.bitrix24.passes import change_streams
from sources.bitrix24.windows import ReadAhead
from tests.warehouse import assert_equal_to_portal, kill_sync_when, scalar, sync, warehouse_snapshot

WINDOW = 4_000  # records: the demo portal (~30,000) loads in about eight windows

def _loaded_windows(warehouse) -> int:
    return len(list((warehouse.dlt_dir / "bitrix24" / "load" / "loaded").glob("*")))


def _first_window(warehouse, demo) -> bool:
    return demo.stats()["http_requests"] >= 2 and _loaded_windows(warehouse) == 0


def _between_windows(warehouse, demo) -> bool:
    return _loaded_windows(warehouse) >= 2


def _loading_a_later_window(warehouse, demo) -> bool:
    jobs = (warehouse.dlt_dir / "bitrix24" / "load" / "normalized").glob("*/completed_jobs/*")
    return _loaded_windows(warehouse) >= 2 and any(jobs)


KILL_POINTS = {
    "reading the first window": _first_window,
    "after two windows, reading the next": _between_windows,
    "loading a later window": _loading_a_later_window,
}


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_first_load_killed_then_rerun_equals_a_load_in_one_piece(warehouse, demo, tmp_path,
                                                                   point):
    kill_sync_when(warehouse, demo, KILL_POINTS[point], SOURCES__BITRIX24__WINDOW_ROWS=str(WINDOW))
    committed = _loaded_windows(warehouse)
    requests.delete(f"{demo.base}/_emulator/stats", timeout=10)
    sync(warehouse, window_rows=WINDOW)
    resumed_requests = demo.stats()["http_requests"]
    windows = scalar(warehouse, "select count(*) from bitrix_raw._dlt_loads")

    clean = type(warehouse)(tmp_path / "clean.duckdb", tmp_path / "clean_bi.duckdb",
                            tmp_path / "clean_dlt", None, None)
    requests.delete(f"{demo.base}/_emulator/stats", timeout=10)
    sync(clean)  # one window: the default holds the whole demo portal
    assert scalar(clean, "select count(*) from bitrix_raw._dlt_loads") == 1
    assert windows >= 6, "the first load ran in windows"
    assert warehouse_snapshot(warehouse) == warehouse_snapshot(clean)
    assert_equal_to_portal(warehouse, demo)
    if committed:  # the rerun went on from the last committed window, not from the start
        assert resumed_requests < demo.stats()["http_requests"]
    # The first incremental pass after the windows finds nothing left to load.
    assert sync(warehouse, window_rows=WINDOW) == {}


def test_changes_made_during_a_first_load_in_windows_reach_the_next_pass(warehouse, demo):
    leads = [r["ID"] for r in demo.records("lead")]
    demo.control("POST", "faults", {"faults": [
        {"kind": "slow", "method": "batch", "delay_seconds": 0.2}]})
    made: list[str] = []

    def change_once_a_window_is_loaded():
        while not _loaded_windows(warehouse):
            time.sleep(0.01)
        demo.call("crm.lead.update", {"id": leads[0], "fields": {"TITLE": "renamed"}})
        made.append(demo.call("crm.lead.add", {"fields": {"TITLE": "added"}})["result"])

    thread = threading.Thread(target=change_once_a_window_is_loaded)
    thread.start()
    sync(warehouse, window_rows=WINDOW)
    thread.join()
    demo.control("DELETE", "faults")
    title = f"select title from bitrix_raw.leads where id = {leads[0]}"
    assert scalar(warehouse, title) != "renamed"  # its window was loaded before the change
    assert sync(warehouse, window_rows=WINDOW)["leads"] == 2
    assert scalar(warehouse, title) == "renamed"
    assert scalar(warehouse, f"select title from bitrix_raw.leads where id = {made[0]}") == "added"
    assert_equal_to_portal(warehouse, demo)


def test_the_read_ahead_stops_at_its_bound_and_hands_failures_to_the_reader(demo):
    requests.delete(f"{demo.base}/_emulator/stats", timeout=10)
    read = ReadAhead(BitrixClient(demo.webhook, rate=0), change_streams({}, 120), rows=100)
    time.sleep(1.0)
    # The first batch holds a page of each of six lists, more than the two the queue takes:
    # nothing more is read until the reader takes pages.
    assert demo.stats()["http_requests"] == 1
    window = list(read.window(120))
    assert [len(page.rows) for page in window] == [50, 50, 50]  # whole pages, the last past 120
    assert len(list(read.window(300))) == 6  # the first batch's last three, the next's first
    time.sleep(1.0)
    assert demo.stats()["http_requests"] == 2  # that next batch, its other pages waiting
    read.close()

    read = ReadAhead(BitrixClient(demo.webhook, rate=0), change_streams({}, 120), rows=100)
    demo.control("POST", "faults", {"faults": [
        {"kind": "error", "method": "batch", "count": 100, "error": "ACCESS_DENIED",
         "error_description": "Access denied", "status": 403}]})
    with pytest.raises(BitrixError, match="Access denied"):
        list(read.window(10**9))


def test_the_source_run_on_its_own_loads_a_window_a_run_and_leaves_no_reader_behind(demo,
                                                                                   tmp_path):
    pipeline = dlt.pipeline("own", destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
                            pipelines_dir=str(tmp_path / "dlt"), dataset_name="raw")
    runs = 0
    while True:  # as a dlt user would: run until the first load is complete
        pipeline.run(bitrix24_source(webhook_url=demo.webhook, rate_per_second=0,
                                     window_rows=WINDOW), loader_file_format="parquet")
        runs += 1
        readers = [t for t in threading.enumerate() if t.name == "bitrix24-read-ahead"]
        for reader in readers:
            reader.join(timeout=5)
        assert not any(reader.is_alive() for reader in readers)
        if state.data_as_of(pipeline) is not None:
            break
    assert runs >= 6
    with pipeline.sql_client() as client:
        loaded = client.execute_sql("select count(*) from leads")[0][0]
    assert loaded == len(demo.records("lead"))


def test_a_first_load_in_windows_has_the_currency_rates_from_its_first_window(demo, tmp_path):
    """The deals of the first windows convert to the base currency before the load ends."""
    pipeline = dlt.pipeline("rates", destination=dlt.destinations.duckdb(
        str(tmp_path / "w.duckdb")), pipelines_dir=str(tmp_path / "dlt"), dataset_name="raw")
    pipeline.run(bitrix24_source(webhook_url=demo.webhook, rate_per_second=0,
                                 window_rows=WINDOW), loader_file_format="parquet")
    assert state.data_as_of(pipeline) is None  # more windows to come
    with pipeline.sql_client() as client:
        rates = client.execute_sql("select currency, base from currency_rates order by 1")
    assert [tuple(row) for row in rates] == [
        ("CNY", "N"), ("EUR", "N"), ("RUB", "Y"), ("USD", "N")]
