"""The event worker against the real emulator (its outbound events over HTTP), a real DuckDB
warehouse (PostgreSQL in one test), real dbt and a real Dagster instance: an event publishes a
change with no schedule tick, a forged event is refused, a burst coalesces, a kill loses
nothing, and Dagster shows the worker's cycles on the job's own assets and checks."""

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests

from emulator.testing import free_port
from orchestration.dagster import jobs
from orchestration.dagster.assets import BI_KEY, SYNC_RUNS_KEY
from orchestration.dagster.reporting import DagsterReport
from orchestration.pipeline import transform
from orchestration.pipeline.portals import Portal
from orchestration.worker import events
from orchestration.worker.worker import Timing, Worker
from tests.warehouse import reconcile, sync

pytestmark = pytest.mark.timeout(600)

ONLY_EVENTS = Timing(poll_seconds=3600, refresh_seconds=3600, test_every_seconds=3600)


@contextmanager
def running(settings, emulator, timing=ONLY_EVENTS, report=None):
    """The worker and its receiver in this process, bound to the portal's six events; yields
    once the catch-up cycle has published."""
    worker = Worker(settings, timing, report, rate_per_second=0)
    port = free_port()
    url = f"http://127.0.0.1:{port}{events.PATH}"
    token = emulator.bind_events(url)
    server = events.serve(lambda: {"main": token}, worker.notify, "127.0.0.1", port)
    thread = threading.Thread(target=worker.serve, daemon=True)
    thread.start()
    try:
        _until(lambda: worker.cycles and worker.cycles[0].published, "the catch-up cycle")
        yield worker, url
    finally:
        worker.stop()
        thread.join(300)
        server.should_exit = True


def _until(condition, what: str, seconds: float = 120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _bi(settings, sql: str) -> list[tuple]:
    if not settings.bi_path.exists():
        return []
    with duckdb.connect(str(settings.bi_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def _add_lead(emulator, title: str) -> int:
    return int(emulator.call("crm.lead.add", {"fields": {"TITLE": title}})["result"])


def test_an_event_publishes_the_change_without_a_schedule_tick_or_a_poll(settings, emulator):
    with running(settings, emulator) as (worker, _):
        lead = _add_lead(emulator, "seen through an event")
        _until(lambda: _bi(settings, f"select 1 from marts.fct_leads where lead_id = {lead}"),
               "the new lead in BI_PATH", 60)
        assert [c.trigger for c in worker.cycles[1:]] == ["event"]
        assert worker.cycles[1].rows > 0 and worker.cycles[1].published


def test_a_delete_event_marks_the_record_deleted_in_the_next_pass_without_a_reconcile(
    settings, emulator
):
    kept, gone = _add_lead(emulator, "kept"), _add_lead(emulator, "deleted")
    with running(settings, emulator):
        emulator.call("crm.lead.delete", {"id": gone})
        _until(lambda: _bi(settings, "select record_id from marts.fct_deleted_records"),
               "the deletion mark", 60)
        assert _bi(settings, "select lead_id from marts.fct_leads") == [(kept,)]
        assert _bi(settings, "select entity, record_id from marts.fct_deleted_records") == [
            ("lead", gone)]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        runs = con.execute("select kind, started_at from ops.sync_runs order by started_at")
        kinds = [kind for kind, _ in runs.fetchall()]
    assert kinds.count("reconcile") == 1 == kinds.index("reconcile")  # at start only
    marks = settings.warehouse_path.with_name(settings.warehouse_path.name + ".deletes")
    assert marks.read_text() == ""  # checked and marked: nothing left to remember


@pytest.mark.parametrize("token", [None, "forged-0123456789abcdef"])
def test_an_event_with_a_forged_or_missing_token_is_refused_and_wakes_nothing(
    settings, emulator, token
):
    lead = _add_lead(emulator, "a")
    with running(settings, emulator) as (worker, url):
        body = {"event": "ONCRMLEADDELETE", "data[FIELDS][ID]": str(lead)}
        if token:
            body["auth[application_token]"] = token
        answer = requests.post(url, data=body, timeout=10)
        assert answer.status_code == 403
        time.sleep(1.5)
        assert len(worker.cycles) == 1
    assert _bi(settings, "select lead_id from marts.fct_leads") == [(lead,)]


def test_a_burst_of_1000_events_costs_a_bounded_number_of_cycles(settings, emulator):
    with running(settings, emulator) as (worker, _):
        for start in range(0, 1000, 50):
            emulator.call("batch", {"halt": 0, "cmd": {
                f"a{i}": f"crm.lead.add?fields[TITLE]=burst+{i}" for i in range(start, start + 50)
            }})
        _until(lambda: _bi(settings, "select count(*) from marts.fct_leads") == [(1000,)],
               "the 1,000 leads in BI_PATH", 300)
        _until(lambda: emulator.control("GET", "events")["delivered"] == 1000, "delivery", 30)
        time.sleep(1)  # any cycle the last events woke has started by now
        burst_cycles = [c for c in worker.cycles[1:] if c.trigger == "event"]
        # events that arrive during a cycle wake one more cycle, not one each: the burst is
        # the 20 requests' time plus a few cycles, whatever the number of events
        assert 1 <= len(burst_cycles) <= 5, [c.trigger for c in worker.cycles]
    assert _bi(settings, "select count(distinct lead_id) from marts.fct_leads") == [(1000,)]


def test_worker_cycles_show_on_the_jobs_assets_and_checks_in_dagster(
    settings, emulator, defs, persistent_instance
):
    instance = persistent_instance  # the schedule's evaluation below reopens it
    report = DagsterReport(settings, instance)
    worker = Worker(settings, ONLY_EVENTS, report, rate_per_second=0)
    lead = _add_lead(emulator, "reported")
    cycle = worker.cycle()
    assert cycle.published and cycle.rows > 0
    assert worker.run_data_tests()
    graph = defs.resolve_asset_graph()
    leads = [r.asset_materialization for r in instance.fetch_materializations(
        dg.AssetKey(["bitrix", "leads"]), limit=10).records]
    # the pass, then the reconcile a worker runs after its first pass, on the portal's partition
    assert [(m.partition, m.metadata["mode"].value, m.metadata["rows_loaded"].value,
             m.metadata["reported_by"].value) for m in leads] == [
        ("main", "reconcile", 0, "worker"), ("main", "sync", 1, "worker")]
    reported = [key for key in graph.get_all_asset_keys()
                if instance.get_latest_materialization_event(key) is not None]
    marts = [key for key in graph.get_all_asset_keys() if key.path[0] == "marts"]
    assert set(marts) <= set(reported) and BI_KEY in reported
    checks = list(graph.asset_check_keys)
    assert checks, "the job's dbt step defines the data tests as asset checks"
    for key in checks:
        record = instance.get_latest_asset_check_evaluation_record(key)
        assert record is not None, f"{key} not reported"
        assert record.evaluation.passed, key
    assert _bi(settings, f"select 1 from marts.fct_leads where lead_id = {lead}")
    # the schedules stand aside while the worker keeps the copy fresh
    context = dg.build_schedule_context(instance=instance)
    assert isinstance(jobs.each_portal(context, settings), dg.SkipReason)


def _worker_process(settings, token: str, port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "WAREHOUSE_PATH": str(settings.warehouse_path),
        "BI_PATH": str(settings.bi_path),
        "DLT_PIPELINES_DIR": str(settings.dlt_dir),
        "SOURCES__BITRIX24__APPLICATION_TOKEN": token,
    }
    env.pop("DAGSTER_HOME", None)
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("bitrix-warehouse")), "worker", "--port",
         str(port), "--poll-seconds", "2"],
        env=env, stdout=log.open("a"), stderr=subprocess.STDOUT,
    )


def _listening(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}{events.PATH}", timeout=1).status_code == 405
    except requests.ConnectionError:
        return False


def test_a_worker_killed_mid_cycle_loses_nothing_and_the_next_one_completes_the_work(
    settings, emulator, tmp_path
):
    port = free_port()
    token = emulator.bind_events(f"http://127.0.0.1:{port}{events.PATH}")
    log = tmp_path / "worker.log"
    leads = [_add_lead(emulator, f"before {i}") for i in range(5)]
    sync(settings)  # held by the warehouse, so their deletes show in fct_deleted_records
    deleted = []
    # killed while a pass waits on a slow portal, then at two moments of a cycle an event woke
    for kill_after in (None, 0.7, 3.0):
        worker = _worker_process(settings, token, port, log)
        _until(lambda: _listening(port), "the receiver", 120)
        if kill_after is None:
            emulator.control("POST", "faults", {"kind": "slow", "method": "batch",
                                                "delay_seconds": 30, "count": 1})
        emulator.call("crm.lead.delete", {"id": leads[len(deleted)]})
        deleted.append(leads[len(deleted)])
        leads += [_add_lead(emulator, f"killed after {kill_after}: {i}") for i in range(3)]
        time.sleep(kill_after or 2.5)
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
        emulator.control("DELETE", "faults")
    worker = _worker_process(settings, token, port, log)
    try:
        live = sorted(set(leads) - set(deleted))
        _until(lambda: [r[0] for r in _bi(settings, "select lead_id from marts.fct_leads "
                                                    "order by 1")] == live,
               "every live lead once in BI_PATH", 240)
        _until(lambda: sorted(r[0] for r in _bi(
            settings, "select record_id from marts.fct_deleted_records")) == sorted(deleted),
            "every announced delete marked", 60)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(120) == 0, log.read_text()[-3000:]
    # the killed runs' warehouse holds what a clean run of the same portal holds
    clean = replace(settings, warehouse_path=tmp_path / "clean" / "warehouse.duckdb",
                    bi_path=tmp_path / "clean" / "bi.duckdb", dlt_dir=tmp_path / "clean" / "dlt")
    sync(clean)
    reconcile(clean)
    query = ("select id, date_modify, title from bitrix_raw.leads "
             "where id not in (select id from bitrix_raw.deleted_records where is_deleted) "
             "order by id")
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        ours = con.execute(query).fetchall()
    with duckdb.connect(str(clean.warehouse_path), read_only=True) as con:
        expected = con.execute(query).fetchall()
    assert ours == expected
    assert "Traceback" not in log.read_text()


def test_rows_loaded_by_a_cycle_whose_build_failed_are_published_by_the_next_one(
    settings, emulator, monkeypatch
):
    worker = Worker(settings, ONLY_EVENTS, rate_per_second=0)
    worker.cycle()
    lead = _add_lead(emulator, "loaded, then dbt failed")
    real_build = transform.build
    failures = iter([transform.BuildFailed("dbt run failed: injected")])

    def build_failing_once(*args, **kwargs):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_build(*args, **kwargs)

    monkeypatch.setattr(transform, "build", build_failing_once)
    with pytest.raises(transform.BuildFailed):
        worker.cycle()
    again = worker.cycle()  # nothing new to load: the rows of the failed cycle are built
    assert again.rows == 0 and again.published and again.trigger == "poll"
    assert _bi(settings, f"select 1 from marts.fct_leads where lead_id = {lead}")


def test_a_failing_portal_is_alerted_once_shown_in_dagster_and_the_worker_recovers(
    settings, emulator, alert_receiver, instance
):
    timing = Timing(poll_seconds=1, refresh_seconds=3600, test_every_seconds=3600,
                    max_backoff_seconds=2)
    report = DagsterReport(settings, instance)
    with running(settings, emulator, timing, report) as (worker, _):
        emulator.control("POST", "faults", {"kind": "error", "method": "batch", "count": 40,
                                            "error": "ACCESS_DENIED", "status": 403})
        _until(lambda: worker.failures >= 2, "two failed cycles", 120)
        emulator.control("DELETE", "faults")
        lead = _add_lead(emulator, "after the outage")
        _until(lambda: _bi(settings, f"select 1 from marts.fct_leads where lead_id = {lead}"),
               "the lead after the outage", 120)
    assert worker.failures == 0
    alerts = [r["json"] for r in alert_receiver.received if r["json"]["subject"] == "worker"]
    assert len(alerts) == 1 and alerts[0]["event"] == "run_failed"
    observed = [r.asset_observation.metadata for r in instance.fetch_observations(
        SYNC_RUNS_KEY, limit=50).records]
    failed = [m for m in observed if m["status"].value == "failed"]
    assert len(failed) >= 2 and all("ACCESS_DENIED" in m["error"].value for m in failed)
    secret = emulator.webhook.split("/rest/")[1]
    assert secret not in str(alerts) and secret not in str(observed)


def test_a_delete_event_for_a_record_the_portal_still_lists_marks_nothing(settings, emulator):
    """An event only says something happened: a lead restored since, or deleted in a test
    event by mistake, is checked against the portal and kept."""
    lead = _add_lead(emulator, "still there")
    worker = Worker(settings, ONLY_EVENTS, rate_per_second=0)
    worker.notify(events.Event("leads", "DELETE", lead))
    assert worker.cycle().published
    assert _bi(settings, "select lead_id from marts.fct_leads") == [(lead,)]
    assert _bi(settings, "select count(*) from marts.fct_deleted_records") == [(0,)]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("select count(*) from bitrix_raw.deleted_records").fetchone() == (0,)


def test_a_queued_delete_that_names_no_record_is_dropped_and_alerted_not_retried_forever(
    settings, emulator, alert_receiver
):
    """Regression: a delete event for ID 9999999999999999999999999 was accepted and queued;
    every cycle sent it to the portal, failed, and nothing was published again, even after a
    restart, until someone deleted the queue file by hand."""
    kept, gone = _add_lead(emulator, "kept"), _add_lead(emulator, "deleted")
    sync(settings)
    emulator.call("crm.lead.delete", {"id": gone})
    queue = settings.warehouse_path.with_name(settings.warehouse_path.name + ".deletes")
    # the old form (`entity ID`: main's), and a portal no longer served (dropped, no check)
    queue.write_text(f"leads 9999999999999999999999999\nleads {gone}\ndeals ١٢\n"
                     f"gone_portal leads {kept}\n")
    worker = Worker(settings, ONLY_EVENTS, rate_per_second=0)
    assert worker.cycle().published
    assert _bi(settings, "select lead_id from marts.fct_leads") == [(kept,)]
    assert _bi(settings, "select record_id from marts.fct_deleted_records") == [(gone,)]
    assert queue.read_text() == ""
    alerts = [r["json"] for r in alert_receiver.received if r["json"]["event"] == "bad_event"]
    assert len(alerts) == 1 and "2 queued delete(s)" in alerts[0]["text"]


def test_an_announced_deletion_the_portal_refuses_to_check_is_dropped_alone(
    settings, emulator, alert_receiver, monkeypatch
):
    """The portal refuses every check that names one ID: that ID is dropped and alerted, the
    other announced deletions are still checked and marked, and the cycle publishes."""
    from sources.bitrix24.client import BitrixClient

    leads = [_add_lead(emulator, f"lead {i}") for i in range(4)]
    sync(settings)
    for lead in leads[:2]:
        emulator.call("crm.lead.delete", {"id": lead})
    poison = leads[3]
    request = BitrixClient._request

    def refusing(client, method, params):
        naming = [c for c in (params.get("cmd") or {}).values()
                  if "%40ID" in c and f"={poison}&" in c + "&"]
        if naming:  # the portal refuses each command that names the poisoned ID
            emulator.control("POST", "faults", {"kind": "error", "method": "crm.lead.list",
                                                "count": len(naming),
                                                "error": "INVALID_ARG_VALUE", "status": 400})
        return request(client, method, params)

    monkeypatch.setattr(BitrixClient, "_request", refusing)
    worker = Worker(settings, ONLY_EVENTS, rate_per_second=0)
    worker._next_reconcile = float("inf")  # the announced deletions alone find them
    for lead in (*leads[:2], poison):
        worker.notify(events.Event("leads", "DELETE", lead))
    assert worker.cycle().published
    assert sorted(r[0] for r in _bi(settings, "select record_id from marts.fct_deleted_records")
                  ) == sorted(leads[:2])
    alerts = [r["json"] for r in alert_receiver.received if r["json"]["event"] == "bad_event"]
    assert len(alerts) == 1 and f"leads {poison}" in alerts[0]["text"]
    assert worker.cycle().rows == 0  # the next cycle does not try it again



def test_one_worker_serves_two_portals_and_routes_each_event_by_its_portals_token(
    settings, emulator, north, tmp_path, monkeypatch
):
    """Both portals' lead 1 exists (IDs overlap, as two real portals' do): an event of north
    reads north alone, and north's delete marks north's lead 1, not main's."""
    settings = replace(settings, secrets_file=tmp_path / ".dlt" / "secrets.toml")
    port = free_port()
    url = f"http://127.0.0.1:{port}{events.PATH}"
    monkeypatch.setenv("SOURCES__BITRIX24__APPLICATION_TOKEN", emulator.bind_events(url))
    settings.registry.add(Portal("north", "Asia/Yekaterinburg"), north.webhook,
                          north.bind_events(url))
    assert sorted(settings.registry.application_tokens()) == ["main", "north"]
    first = {name: _add_lead(emu, f"{name} lead") for name, emu in (("main", emulator),
                                                                    ("north", north))}
    assert first == {"main": 1, "north": 1}
    worker = Worker(settings, ONLY_EVENTS, rate_per_second=0)
    server = events.serve(settings.registry.application_tokens, worker.notify, "127.0.0.1", port)
    thread = threading.Thread(target=worker.serve, daemon=True)
    thread.start()
    passes = "select portal, count(*) from ops.sync_runs where kind = 'sync' group by 1 order by 1"
    try:
        _until(lambda: worker.cycles and worker.cycles[0].published, "the catch-up cycle")
        with settings.warehouse.connect(read_only=True) as con:
            assert con.rows(passes) == [("main", 1), ("north", 1)]

        north.call("crm.lead.update", {"id": 1, "fields": {"TITLE": "north, renamed"}})
        titles = "select portal, title from marts.fct_leads order by 1"
        _until(lambda: _bi(settings, titles) == [("main", "main lead"),
                                                 ("north", "north, renamed")],
               "north's change in BI_PATH", 60)
        with settings.warehouse.connect(read_only=True) as con:
            assert con.rows(passes) == [("main", 1), ("north", 2)]  # north's pass alone

        north.call("crm.lead.delete", {"id": 1})
        deleted = "select portal, record_id from marts.fct_deleted_records"
        _until(lambda: _bi(settings, deleted) == [("north", 1)], "north's delete", 60)
        assert _bi(settings, titles) == [("main", "main lead")]
    finally:
        worker.stop()
        thread.join(300)
        server.should_exit = True


def test_a_portal_that_fails_in_the_worker_is_alerted_once_while_the_other_publishes(
    settings, emulator, north, tmp_path, alert_receiver
):
    settings = replace(settings, secrets_file=tmp_path / ".dlt" / "secrets.toml")
    settings.registry.add(Portal("north"), north.webhook)
    worker = Worker(settings, ONLY_EVENTS, rate_per_second=0)
    assert worker.cycle().published
    north.control("POST", "faults", {"kind": "error", "method": "batch", "count": 1000,
                                     "error": "ACCESS_DENIED", "status": 403})
    for i in range(2):  # two cycles of north failing: main's changes are published anyway
        lead = _add_lead(emulator, f"main during north's outage {i}")
        assert worker.cycle().published
        assert _bi(settings, f"select portal from marts.fct_leads where lead_id = {lead}") == [
            ("main",)]
    alerts = [r["json"] for r in alert_receiver.received]
    assert [(a["event"], a["portal"]) for a in alerts] == [("run_failed", "north")]
    assert "ACCESS_DENIED" in alerts[0]["error"] and north.secret not in str(alerts)
    north.control("DELETE", "faults")
    _add_lead(north, "north is back")
    assert worker.cycle().published and worker.failures == 0
    assert _bi(settings, "select count(*) from marts.fct_leads where portal = 'north'") == [(1,)]
    assert len(alert_receiver.received) == 1


def test_on_postgres_every_event_publishes_its_change_cycle_after_cycle(
        settings, emulator, postgres_server):
    """Each cycle rebuilds the tables and the views over them: PostgreSQL drops a view with
    the old copy of a table dbt replaces (`int_leads_classified` over `int_currency_rates`),
    so a cycle that built tables alone left the next one without the view."""
    on_postgres = replace(settings, engine="postgres",
                          postgres_url=postgres_server.create_database("warehouse"))

    def published(lead: int) -> bool:
        with on_postgres.warehouse.read_published() as con:
            return bool(con.rows("select 1 from marts.fct_leads where lead_id = ?", [lead]))

    with running(on_postgres, emulator) as (worker, _):
        for title in ("first", "second", "third"):
            lead = _add_lead(emulator, title)
            _until(lambda lead=lead: published(lead), f"lead {title!r} in the marts", 90)
    assert [c.trigger for c in worker.cycles[1:]] == ["event"] * 3
    assert all(c.published for c in worker.cycles)
