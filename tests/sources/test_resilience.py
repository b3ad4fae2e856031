"""Nothing is lost: concurrent changes, kills, faults, bad credentials, deletions, the secret."""

import pickle
import threading
import time
import zlib
from base64 import b64decode

import pytest

from orchestration.pipeline import operations
from sources.bitrix24.errors import BitrixAuthError
from tests.warehouse import (
    assert_equal_to_portal,
    kill_sync_when,
    reconcile,
    scalar,
    sync,
    sync_killed_after_a_load_job_commits,
    table,
    warehouse_snapshot,
)


def test_changes_made_while_a_pass_pages_are_all_present_after_the_next_pass(warehouse, demo):
    stop = threading.Event()
    writes, failures = [], []
    deal_ids = [int(d["ID"]) for d in demo.records("deal")]

    def writer():
        i = 0
        while not stop.is_set():  # ends with the pass below
            try:
                leads = demo.call("crm.lead.list", {"select": ["ID"], "start": -1,
                                                    "order": {"ID": "DESC"}})["result"]
                target = int(leads[i % len(leads)]["ID"])
                demo.call("crm.lead.update", {"id": target, "fields": {"TITLE": f"changed {i}"}})
                demo.call("crm.lead.add", {"fields": {"TITLE": f"new {i}"}})
                demo.call("crm.deal.update", {"id": deal_ids[(i * 37) % len(deal_ids)],
                                              "fields": {"OPPORTUNITY": 1000 + i}})
            except AssertionError as exc:  # live mode may delete the lead picked a moment ago
                failures.append(exc)
            writes.append(i)
            i += 1
            time.sleep(0.01)

    demo.control("POST", "live", {"enabled": True, "interval_seconds": 0.05})
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        sync(warehouse)
    finally:
        stop.set()
        thread.join()
        demo.control("POST", "live", {"enabled": False})
    assert len(writes) > 5 and len(failures) < len(writes) / 2
    sync(warehouse)
    reconcile(warehouse)  # live mode deletes a few leads
    deleted = {r["id"] for r in table(warehouse, "deleted_records", "id") if r["is_deleted"]}
    for name in ("leads", "deals", "lead_stage_history", "deal_stage_history"):
        duplicates = f"select count(*) - count(distinct id) from bitrix_raw.{name}"
        assert scalar(warehouse, duplicates) == 0, name
    assert_equal_to_portal(warehouse, demo, deleted=deleted)


def _mid_extract(warehouse, demo):
    return demo.stats()["http_requests"] >= 3


def _package_in(folder):
    def reached(warehouse, demo):
        return any((warehouse.dlt_dir / "bitrix24").glob(folder))

    return reached


KILL_POINTS = {
    "while extracting": _mid_extract,
    "extracted, before normalizing": _package_in("normalize/extracted/*/"),
    "while normalizing": _package_in("load/new/*/"),
    "while loading": _package_in("load/normalized/*/completed_jobs/*"),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_pass_killed_then_rerun_equals_a_clean_run(warehouse, demo, tmp_path, point):
    kill_sync_when(warehouse, demo, KILL_POINTS[point])
    sync(warehouse)

    clean = type(warehouse)(tmp_path / "clean.duckdb", tmp_path / "clean_bi.duckdb",
                            tmp_path / "clean_dlt", None, None)
    sync(clean)
    assert warehouse_snapshot(warehouse) == warehouse_snapshot(clean)
    assert_equal_to_portal(warehouse, demo)


def test_a_load_job_committed_but_not_recorded_is_loaded_again_without_duplicates(
    any_warehouse, demo
):
    """dlt records a job as done after the warehouse commits it; a kill in between makes the
    next run load the file again, into staging tables that already hold its rows."""
    sync_killed_after_a_load_job_commits(any_warehouse, demo)
    sync(any_warehouse)
    assert_equal_to_portal(any_warehouse, demo)


@pytest.mark.parametrize("fault", [
    {"kind": "error", "method": "batch", "count": 3, "error": "QUERY_LIMIT_EXCEEDED",
     "error_description": "Too many requests", "status": 503},
    {"kind": "error", "method": "crm.lead.list", "count": 2, "error": "OPERATION_TIME_LIMIT",
     "error_description": "Method is blocked due to operation time limit.", "status": 429},
    {"kind": "http_500", "probability": 0.3},
    {"kind": "html", "probability": 0.3},
    {"kind": "drop", "probability": 0.3},
    {"kind": "slow", "count": 2, "delay_seconds": 1.5},
])
def test_a_pass_through_faults_loads_what_a_clean_pass_loads(warehouse, demo, fault):
    demo.control("POST", "faults", {"faults": [fault], "seed": 3})
    sync(warehouse, max_attempts=12)
    demo.control("DELETE", "faults")
    assert demo.stats()["faults_injected"], "the fault never struck"
    assert_equal_to_portal(warehouse, demo)


def test_a_pass_through_faults_on_postgres_loads_what_the_portal_holds(on_postgres, demo):
    demo.control("POST", "faults", {"faults": [
        {"kind": kind, "probability": 0.2} for kind in ("http_500", "html", "drop")], "seed": 5})
    sync(on_postgres, max_attempts=12)
    demo.control("DELETE", "faults")
    assert demo.stats()["faults_injected"], "the fault never struck"
    assert_equal_to_portal(on_postgres, demo)


def test_the_portals_real_rate_limit_is_respected_without_refusals(warehouse, demo):
    demo.configure(rate_limit={"enabled": True, "rate": 2, "burst": 5})
    operations.load(warehouse, operations.Sync(), rate_per_second=2, burst=5)
    assert demo.stats()["errors"] == {}
    assert_equal_to_portal(warehouse, demo)


def test_the_server_refusing_past_its_bucket_is_retried(warehouse, demo):
    demo.configure(rate_limit={"enabled": True, "rate": 4, "burst": 2})
    sync(warehouse, max_attempts=20)  # client bucket off: the portal refuses, the client waits
    assert demo.stats()["errors"].get("QUERY_LIMIT_EXCEEDED", 0) > 0
    assert_equal_to_portal(warehouse, demo)


def test_bad_credentials_fail_fast_with_a_clear_message(warehouse, demo, monkeypatch):
    monkeypatch.setenv("SOURCES__BITRIX24__WEBHOOK_URL", demo.webhook.replace(demo.secret, "nope"))
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        sync(warehouse)
    assert time.monotonic() - started < 10
    cause = caught.value
    while not isinstance(cause, BitrixAuthError) and cause.__cause__ is not None:
        cause = cause.__cause__
    assert isinstance(cause, BitrixAuthError)
    assert "INVALID_CREDENTIALS" in str(cause) and "/rest/1/***/" in str(cause)
    assert demo.stats()["http_requests"] == 1


def test_reconcile_marks_deleted_records_and_unmarks_none_else(warehouse, demo):
    sync(warehouse)
    gone = [int(r["ID"]) for r in demo.records("lead")[:3]]
    for lead_id in gone:
        demo.call("crm.lead.delete", {"id": lead_id})
    deal = int(demo.records("deal")[5]["ID"])
    demo.call("crm.deal.delete", {"id": deal})
    demo.control("DELETE", "stats")
    assert reconcile(warehouse) == {"deleted_records": 4}
    rows = table(warehouse, "deleted_records", "entity, id")
    assert [(r["entity"], r["id"], r["is_deleted"]) for r in rows] == [
        ("deals", deal, True), *[("leads", i, True) for i in sorted(gone)]]
    assert all(r["noticed_at"] is not None for r in rows)
    assert scalar(warehouse, f"select count(*) from bitrix_raw.leads where id = {gone[0]}") == 1
    ids = len(demo.records("lead")) + len(demo.records("deal"))
    assert demo.stats()["http_requests"] <= ids // 2500 + 3
    assert reconcile(warehouse).get("deleted_records", 0) == 0


def _texts_in_state(con) -> list[str]:
    out = []
    for (state,) in con.execute("select state from bitrix_raw._dlt_pipeline_state").fetchall():
        out.append(zlib.decompress(b64decode(state)).decode("utf-8", "replace"))
    return out


def test_the_webhook_secret_appears_nowhere_the_pipeline_writes(warehouse, demo, capfd, caplog,
                                                              monkeypatch):
    import duckdb

    caplog.set_level("DEBUG")
    sync(warehouse)
    demo.call("crm.lead.add", {"fields": {"TITLE": "after"}})
    demo.control("POST", "faults", {"faults": [{"kind": "drop", "count": 1},
                                               {"kind": "html", "count": 1}]})
    sync(warehouse)
    monkeypatch.setenv("SOURCES__BITRIX24__WEBHOOK_URL", demo.webhook + "extra/")
    with pytest.raises(Exception) as bad_url:
        sync(warehouse)
    assert demo.secret not in str(bad_url.value)
    monkeypatch.setenv("SOURCES__BITRIX24__WEBHOOK_URL", demo.webhook)
    demo.call("crm.lead.add", {"fields": {"TITLE": "never loaded"}})
    demo.control("POST", "faults", {"faults": [{"kind": "http_500"}]})
    with pytest.raises(Exception) as failed:
        sync(warehouse, max_attempts=2)
    demo.control("DELETE", "faults")

    secret = demo.secret
    assert secret not in str(failed.value) and secret not in repr(failed.value)
    out, err = capfd.readouterr()
    assert secret not in out and secret not in err
    assert secret not in caplog.text
    root = warehouse.warehouse_path.parent
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".duckdb" for p in files) and any("dlt" in str(p) for p in files)
    for path in files:
        data = path.read_bytes()
        assert secret.encode() not in data, path
        if path.name.endswith(".pickle"):
            assert secret not in repr(pickle.loads(data)), path
        if path.suffix == ".gz":
            assert secret.encode() not in zlib.decompress(data, 16 + zlib.MAX_WBITS), path
    with duckdb.connect(str(warehouse.warehouse_path), read_only=True) as con:
        assert all(secret not in text for text in _texts_in_state(con))
