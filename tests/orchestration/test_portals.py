"""Many portals in one deployment: the registry (`portals add|list|remove`), a pipeline and
raw schema per portal, and a round over every portal in which one failing portal does not hold
back the others. Two emulated portals whose record IDs overlap, as two real portals' do. (What
the marts say of several portals: tests/scenarios/test_many_portals.py.)"""

import json
import os
import stat
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from emulator.testing import ROOT
from orchestration.commands.cli import main
from orchestration.pipeline import ingest, operations, transform
from orchestration.pipeline.portals import Portal, PortalError, Registry
from tests.support import NORTH_SECRET
from tests.warehouse import (
    assert_equal_to_portal,
    incremental_rows,
    kill_sync_when,
    scalar,
    settings_env,
)


@pytest.fixture
def registry(tmp_path, monkeypatch) -> Registry:
    monkeypatch.delenv("SOURCES__BITRIX24__WEBHOOK_URL", raising=False)
    return Registry(tmp_path / "portals.toml", tmp_path / ".dlt" / "secrets.toml")


@pytest.mark.parametrize("name", ["North", "1north", "north-west", "north_staging", "staging",
                                  "x" * 41, ""])
def test_a_portal_name_that_cannot_name_a_schema_is_refused(name):
    with pytest.raises(PortalError, match="name"):
        Portal(name)


def test_a_time_zone_must_be_an_iana_zone():
    assert Portal("north", "Asia/Yekaterinburg").timezone == "Asia/Yekaterinburg"
    with pytest.raises(PortalError, match="IANA"):
        Portal("north", "UTC+5")


def test_main_keeps_the_names_a_warehouse_had_before_the_registry():
    main_portal, north = Portal(), Portal("north")
    assert (main_portal.pipeline_name, main_portal.dataset) == ("bitrix24", "bitrix_raw")
    assert (north.pipeline_name, north.dataset) == ("bitrix24_north", "bitrix_raw_north")
    assert north.secret_env == "BITRIX24_NORTH__SOURCES__BITRIX24__WEBHOOK_URL"


def test_the_registry_keeps_webhooks_private_and_apart(registry, monkeypatch):
    assert registry.portals() == (Portal(),)  # no registry yet: the one portal
    url = f"https://north.bitrix24.ru/rest/1/{NORTH_SECRET}/"
    registry.add(Portal("north", "Asia/Yekaterinburg"), url)
    # main had no webhook, so it is not carried over
    assert registry.portals() == (Portal("north", "Asia/Yekaterinburg"),)
    assert NORTH_SECRET not in registry.path.read_text()
    assert stat.S_IMODE(registry.secrets.stat().st_mode) == 0o600
    assert Portal("north").source_options(registry.secrets) == {"webhook_url": url}

    # a portal without a webhook of its own never borrows main's
    monkeypatch.setenv("SOURCES__BITRIX24__WEBHOOK_URL", "https://main.bitrix24.ru/rest/1/m/")
    with pytest.raises(PortalError, match="BITRIX24_SOUTH__SOURCES__BITRIX24__WEBHOOK_URL"):
        Portal("south").source_options(registry.secrets)
    with pytest.raises(PortalError, match="needs --webhook-url"):
        registry.add(Portal("south"), None)
    with pytest.raises(PortalError, match="https://"):
        registry.add(Portal("south"), "north.bitrix24.ru/rest/1/x/")

    assert registry.remove("north") == Portal("north", "Asia/Yekaterinburg")
    assert NORTH_SECRET not in registry.secrets.read_text()
    with pytest.raises(PortalError, match="no portal 'north'"):
        registry.get("north")


def test_the_first_portal_added_keeps_the_one_configured_the_old_way(registry, monkeypatch):
    monkeypatch.setenv("SOURCES__BITRIX24__WEBHOOK_URL", "https://main.bitrix24.ru/rest/1/m/")
    registry.add(Portal("north"), f"https://north.bitrix24.ru/rest/1/{NORTH_SECRET}/")
    assert [p.name for p in registry.portals()] == ["main", "north"]
    assert registry.has_webhook(Portal()) and registry.has_webhook(Portal("north"))


def test_the_portals_command_never_prints_a_webhook(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCES__BITRIX24__WEBHOOK_URL", raising=False)
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("DLT_PROJECT_DIR", str(tmp_path))
    cli = CliRunner()
    url = f"https://north.bitrix24.ru/rest/1/{NORTH_SECRET}/"
    added = cli.invoke(main, ["portals", "add", "north", "--webhook-url", url,
                              "--timezone", "Asia/Yekaterinburg"])
    assert added.exit_code == 0, added.output
    listed = cli.invoke(main, ["portals", "list"])
    assert listed.output.split("\t") == ["north", "Asia/Yekaterinburg", "bitrix_raw_north",
                                        "webhook set", "no events (no application token)\n"]
    token = "north-token-31f0"  # the token of its outgoing webhook, added later
    tokened = cli.invoke(main, ["portals", "add", "north", "--application-token", token])
    assert tokened.exit_code == 0, tokened.output
    listed = cli.invoke(main, ["portals", "list"])
    assert listed.output.split("\t")[3:] == ["webhook set", "events heard\n"]
    assert token not in (tmp_path / "portals.toml").read_text()
    bad = cli.invoke(main, ["portals", "add", "North-1", "--webhook-url", url])
    assert bad.exit_code == 1 and "lower-case letters" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
    unknown = cli.invoke(main, ["sync", "--portal", "south", "--no-build"])
    assert unknown.exit_code == 1 and "no portal 'south'" in unknown.output
    removed = cli.invoke(main, ["portals", "remove", "north"])
    assert removed.exit_code == 0 and "bitrix_raw_north" in removed.output
    for result in (added, tokened, listed, bad, unknown, removed):
        assert NORTH_SECRET not in result.output and token not in result.output



def _leads(emulator, titles):
    for title in titles:
        emulator.call("crm.lead.add", {"fields": {"TITLE": title, "SOURCE_ID": "WEB"}})


def test_each_portal_loads_its_own_schema_and_a_failing_one_fails_alone(
    any_warehouse, emulator, north, tmp_path, monkeypatch
):
    settings = replace(any_warehouse, secrets_file=tmp_path / ".dlt" / "secrets.toml")
    settings.registry.add(Portal("north", "Asia/Yekaterinburg"), north.webhook)
    assert [p.name for p in settings.registry.portals()] == ["main", "north"]
    _leads(emulator, ["Бампер", "Фара"])
    _leads(north, ["Решётка"])

    cycle = operations.run(settings, operations.Sync(), rate_per_second=0)
    assert [r.portal for r in cycle.runs] == ["main", "north"]
    assert cycle.rows["leads"] == 3
    with settings.warehouse.connect(read_only=True) as con:
        staged = con.rows("select portal, lead_id, title from staging.stg_bitrix__leads "
                          "order by 1, 2")
        runs = con.rows("select portal, status from ops.sync_runs order by started_at")
    # lead 1 is a lead of each portal: the portal is part of its key
    assert staged == [("main", 1, "Бампер"), ("main", 2, "Фара"), ("north", 1, "Решётка")]
    assert sorted(runs) == [("main", "success"), ("north", "success")]  # loaded side by side

    # north's webhook revoked: main still loads; the failure names north and no secret
    settings.registry.add(Portal("north", "Asia/Yekaterinburg"),
                          north.webhook.replace(NORTH_SECRET, "revoked-0000"))
    _leads(emulator, ["Капот"])
    with pytest.raises(operations.PortalsFailed) as failed:
        operations.run(settings, operations.Sync(), rate_per_second=0)
    assert list(failed.value.failures) == ["north"]
    message = str(failed.value)
    assert message.startswith("portal north: ") and "revoked-0000" not in message
    with settings.warehouse.connect(read_only=True) as con:
        assert con.rows("select count(*) from bitrix_raw.leads") == [(3,)]
        assert con.rows("select count(*) from bitrix_raw_north.leads") == [(1,)]
        runs = con.rows("select portal, status from ops.sync_runs order by started_at")
        assert sorted(runs[2:]) == [("main", "success"), ("north", "failed")]
    # main's new lead is published beside north's last good data
    with settings.warehouse.read_published() as con:
        assert con.rows("select portal, count(*) from marts.fct_leads group by 1 order by 1") == [
            ("main", 3), ("north", 1)]


def test_a_clients_role_reads_only_its_portals_rows_on_postgres(
    on_postgres, emulator, north, tmp_path, monkeypatch
):
    import psycopg2

    settings = replace(on_postgres, secrets_file=tmp_path / ".dlt" / "secrets.toml")
    settings.registry.add(Portal("north"), north.webhook)
    _leads(emulator, ["Бампер", "Фара"])
    _leads(north, ["Решётка"])
    role = f"client_north_{uuid.uuid4().hex[:8]}"  # roles are the server's, not the database's
    with settings.warehouse.connect() as con:
        con.execute(f"create role {role} login password 'north-pw-1'")
    for name, value in {"WAREHOUSE_PATH": str(settings.warehouse_path),
                        "WAREHOUSE_ENGINE": "postgres", "POSTGRES_URL": settings.postgres_url,
                        "DLT_PROJECT_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    # granted before anything is published: the first publish secures the marts
    granted = CliRunner().invoke(main, ["portals", "grant", "north", role])
    assert granted.exit_code == 0, granted.output
    operations.run(settings, operations.Sync(), rate_per_second=0)
    missing = CliRunner().invoke(main, ["portals", "grant", "north", "nobody_here"])
    assert missing.exit_code == 1 and "create it first" in missing.output

    url = urlsplit(settings.postgres_url)
    as_client = url._replace(netloc=f"{role}:north-pw-1@{url.hostname}:{url.port}").geturl()

    def client_reads(sql):
        with closing(psycopg2.connect(as_client)) as con, con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    by_portal = "select portal, count(*) from marts.{} group by 1 order by 1"
    assert client_reads(by_portal.format("fct_leads")) == [("north", 1)]
    assert client_reads(by_portal.format("mart_data_quality")) == [("north", 11)]
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        client_reads("select * from ops.portal_readers")
    # the next publish makes the marts anew: the policy comes with them
    _leads(north, ["Капот"])
    operations.run(settings, operations.Sync(), rate_per_second=0)
    assert client_reads(by_portal.format("fct_leads")) == [("north", 2)]
    with settings.warehouse.read_published() as con:  # the pipeline's own role sees all
        assert con.rows(by_portal.format("fct_leads")) == [("main", 2), ("north", 2)]
    with settings.warehouse.connect() as con:
        con.execute(f"create role {role}_hq login password 'hq-pw-1'")
    # granted on published marts: read at once, without waiting for a publish
    for portal in ("main", "north"):
        assert CliRunner().invoke(main, ["portals", "grant", portal, f"{role}_hq"]).exit_code == 0
    as_hq = url._replace(netloc=f"{role}_hq:hq-pw-1@{url.hostname}:{url.port}").geturl()
    with closing(psycopg2.connect(as_hq)) as con, con.cursor() as cur:
        cur.execute(by_portal.format("fct_leads"))
        assert cur.fetchall() == [("main", 2), ("north", 2)]

    assert CliRunner().invoke(main, ["portals", "revoke", "north", role]).exit_code == 0
    assert client_reads(by_portal.format("fct_leads")) == []


def test_a_reader_per_portal_needs_database_roles(warehouse):
    with pytest.raises(NotImplementedError, match="WAREHOUSE_ENGINE=postgres"):
        warehouse.warehouse.readers("main", "client", allow=True)


ROUND_SCRIPT = (
    "from orchestration.pipeline import operations, settings; "
    "operations.run(settings.load(), operations.Sync(), rate_per_second=0)"
)


@pytest.mark.slow
def test_a_round_killed_while_the_second_portal_loads_loses_nothing(
    warehouse, demo, north, tmp_path
):
    """kill -9 in a round over two portals, once the first is loaded and the second's rows are
    being written: the next round completes both, each portal's raw tables equal its portal,
    and the marts hold every lead of each once."""
    settings = replace(warehouse, secrets_file=tmp_path / ".dlt" / "secrets.toml")
    settings.registry.add(Portal("north", "Asia/Yekaterinburg"), north.webhook)
    north.reset("demo", scale=0.02, seed=7)

    def north_loading(settings, _):
        return any((settings.dlt_dir / "bitrix24_north").glob(
            "load/normalized/*/completed_jobs/*"))

    # one load at a time, so the kill finds main's run done and north's rows mid-write
    kill_sync_when(settings, demo, north_loading, script=ROUND_SCRIPT, slow=north,
                   DLT_PROJECT_DIR=str(tmp_path), PARALLEL_LOADS="1")
    with settings.warehouse.connect(read_only=True) as con:
        done = con.rows("select portal, status from ops.sync_runs")
    assert done == [("main", "success")]  # the kill hit north's load, after main's

    cycle = operations.run(settings, operations.Sync(), rate_per_second=0)
    assert [r.portal for r in cycle.runs] == ["main", "north"]
    assert_equal_to_portal(settings, demo)
    assert_equal_to_portal(settings, north, schema="bitrix_raw_north")
    with settings.warehouse.read_published() as con:
        marts = con.rows("select portal, count(*), count(distinct lead_id) from marts.fct_leads "
                         "group by 1 order by 1")
    assert marts == [(name, n, n) for name, n in (("main", len(demo.records("lead"))),
                                                  ("north", len(north.records("lead"))))]


def test_portals_are_read_side_by_side_and_a_late_commit_still_reaches_the_marts(
    any_warehouse, emulator, north, tmp_path
):
    """North's pass is held mid-read (its leads in hand, nothing committed) while main loads,
    builds and publishes: reading a portal holds no lock. North then commits, after that build
    and under a load ID older than main's: the next build takes its changes all the same (the
    incremental models keep a mark per portal), and equals a full rebuild."""
    settings = replace(any_warehouse, secrets_file=tmp_path / ".dlt" / "secrets.toml")
    north_portal = Portal("north")
    settings.registry.add(north_portal, north.webhook)
    main_lead = emulator.call("crm.lead.add", {"fields": {"TITLE": "Бампер"}})["result"]
    north_lead = north.call("crm.lead.add", {"fields": {"TITLE": "Решётка"}})["result"]
    north_deal = north.call("crm.deal.add", {"fields": {"TITLE": "Фары", "OPPORTUNITY": 700}}
                            )["result"]
    operations.run(settings, operations.Sync(), rate_per_second=0)

    emulator.call("crm.lead.update", {"id": main_lead, "fields": {"STATUS_ID": "IN_PROCESS"}})
    north.call("crm.lead.update", {"id": north_lead, "fields": {"STATUS_ID": "IN_PROCESS"}})
    north.call("crm.deal.update", {"id": north_deal, "fields": {"STAGE_ID": "WON"}})
    reading, release = threading.Event(), threading.Event()

    def held_source(pipeline):
        source = operations.Sync().source(
            pipeline, rate_per_second=0, **north_portal.source_options(settings.secrets_file))

        def hold(row):
            reading.set()
            assert release.wait(120)
            return row

        source.resources["leads"].add_map(hold)
        return source

    with ThreadPoolExecutor(1) as pool:
        late = pool.submit(ingest.load, settings, "sync", held_source, portal=north_portal)
        assert reading.wait(120)
        operations.run(settings, operations.Sync(), portals=[Portal()], rate_per_second=0)
        assert not late.done()  # main loaded, built and published while north was read
        release.set()
        assert late.result(timeout=120).rows["leads"] == 1

    def newest_load(schema):
        return scalar(settings, f"select max(cast(_dlt_load_id as double precision)) "
                                f"from {schema}.lead_versions")

    assert newest_load("bitrix_raw_north") < newest_load("bitrix_raw")  # the late commit
    operations.build(settings, data_tests=False)
    incremental = incremental_rows(settings)
    stays = {(r["portal"], r["entity"], r["record_id"], r["stage_id"])
             for r in incremental["int_stage_intervals"]}
    assert {("north", "lead", north_lead, "NEW"), ("north", "lead", north_lead, "IN_PROCESS"),
            ("north", "deal", north_deal, "WON")} <= stays
    won = [r for r in incremental["int_deal_versions_summarised"] if r["portal"] == "north"]
    assert [(r["deal_id"], float(r["amount_at_close"])) for r in won] == [(north_deal, 700.0)]
    transform.build(settings, transform.Build(data_tests=False, full_refresh=True))
    assert incremental_rows(settings) == incremental


# A round of two portals in a fresh process, recording what each load imports.
IMPORTS_OF_A_ROUND = """
import json, sys
from orchestration.pipeline import ingest, operations, settings
imported, load = set(), ingest.load

def recording(*args, **kwargs):
    before = set(sys.modules)
    try:
        return load(*args, **kwargs)
    finally:
        imported.update(set(sys.modules) - before)

ingest.load = recording
cycle = operations.run(settings.load(), operations.Sync(), rebuild=False, rate_per_second=0)
print(json.dumps({"portals": [run.portal for run in cycle.runs], "imported": sorted(imported)}))
"""


def test_loads_side_by_side_import_nothing_a_thread_could_meet_half_imported(
    any_warehouse, emulator, north, tmp_path
):
    """Two threads importing the same modules at once can be handed one half-initialized
    (seen under a busy CPU: "partially initialized module 'pyarrow' has no attribute 'Table'",
    one portal's load failed). A round does in its own thread, before the loads start, what a
    process's first load would import; the loads then import nothing."""
    settings = replace(any_warehouse, secrets_file=tmp_path / ".dlt" / "secrets.toml")
    settings.registry.add(Portal("north"), north.webhook)
    _leads(emulator, ["Бампер"])
    _leads(north, ["Решётка"])
    env = {**os.environ, **settings_env(settings), "DLT_PROJECT_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", IMPORTS_OF_A_ROUND], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.splitlines()[-1]) == {"portals": ["main", "north"],
                                                       "imported": []}
