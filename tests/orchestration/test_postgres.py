"""The PostgreSQL engine end to end, against the real emulator, a real server (Debian's binaries)
and real dbt: one portal gives the same marts on both engines; the swap publishes the tested
marts whole while BI tools read; the password shows nowhere."""

import math
import os
import subprocess
import sys
import threading
import time

import pyarrow.csv
import pyarrow.parquet
import pytest
from openpyxl import load_workbook

from emulator.testing import ROOT
from orchestration.pipeline import dbt_project, export, operations, transform
from orchestration.pipeline.settings import Settings
from tests.warehouse import MARTS, settings_env

pytestmark = pytest.mark.slow

# Columns that hold the local clock of the build, the sync or the load (an incremental fact's
# mark), not the portal's data.
CLOCK_COLUMNS = {"built_at", "last_synced_at", "days_in_current_stage", "last_loaded_at"}


def _cycle(settings: Settings) -> dict:
    """A sync, build and publish, as `bitrix-warehouse sync` runs them: the rows loaded."""
    return operations.run(settings, operations.Sync(), rate_per_second=0).rows


def _value(value):
    return round(value, 9) if isinstance(value, float) and not math.isnan(value) else value


def _marts(settings: Settings) -> dict[str, list]:
    """Every published mart's rows (clock columns left out), sorted."""
    out = {}
    with settings.warehouse.read_published() as con:
        for name in export.marts(settings):
            cursor = con.execute(f'select * from marts."{name}"')
            names = [d[0] for d in cursor.description]
            rows = [tuple((c, _value(v)) for c, v in zip(names, row, strict=True)
                          if c not in CLOCK_COLUMNS) for row in cursor.fetchall()]
            out[name] = sorted(rows, key=repr)
    return out


def test_one_portal_gives_the_same_marts_on_duckdb_and_postgres(demo, warehouse, on_postgres):
    demo.control("POST", "clock", {"set": "2026-03-02T12:00:00+03:00", "frozen": True})
    postgres = on_postgres

    on_duckdb, on_postgres = _cycle(warehouse), _cycle(postgres)

    # the rows each load reports are the rows its raw tables hold
    assert on_postgres == on_duckdb
    with postgres.warehouse.connect(read_only=True) as con:
        for table, rows in on_postgres.items():
            assert con.value(f"select count(*) from bitrix_raw.{table}") == rows, table
    duckdb_marts, postgres_marts = _marts(warehouse), _marts(postgres)
    assert set(postgres_marts) == MARTS
    assert sum(map(len, duckdb_marts.values())) > 10_000  # a real portal's worth of rows
    for name in sorted(MARTS):
        differ = [(dict(a), dict(b)) for a, b in zip(postgres_marts[name], duckdb_marts[name],
                                                      strict=False) if a != b][:1]
        assert postgres_marts[name] == duckdb_marts[name], (name, [
            {c: (a[c], b.get(c)) for c in a if a[c] != b.get(c)} for a, b in differ])


def test_the_swap_publishes_every_mart_at_once_while_bi_reads(on_postgres, emulator):
    settings = on_postgres
    emulator.call("crm.lead.add", {"fields": {"TITLE": "Первый"}})
    _cycle(settings)
    seen, reads, errors, stop = set(), [], [], threading.Event()

    def read() -> None:
        # what a BI dashboard does: two marts read in one transaction, again and again
        while not stop.is_set():
            try:
                with settings.warehouse.read_published() as con:
                    seen.add((con.value("select count(*) from marts.fct_leads"),
                              con.value("select count(*) from marts.mart_lead_sources_daily")))
                reads.append(1)
            except Exception as exc:  # any error a reader gets is the failure
                errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        emulator.call("crm.lead.add", {"fields": {"TITLE": "Второй", "SOURCE_ID": "WEB"}})
        published = operations.run(settings, operations.Sync(), rate_per_second=0).published
        done = len(reads)
        while len(reads) < done + 2 and not errors:  # a read that began after the swap
            time.sleep(0.01)
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert published.tables == len(MARTS)
    # one source (CALL, the portal's default) then two: never the new leads with the old sources
    assert seen == {(1, 1), (2, 2)}
    with settings.warehouse.connect(read_only=True) as con:
        assert con.value("select count(*) from information_schema.schemata "
                         "where schema_name in ('marts_new')") == 0  # nothing left behind


def test_a_mart_exports_from_postgres_in_every_format(on_postgres, emulator, tmp_path):
    for title in ("Первый", "Второй, с запятой"):
        emulator.call("crm.lead.add", {"fields": {"TITLE": title, "SOURCE_ID": "WEB"}})
    _cycle(on_postgres)
    with on_postgres.warehouse.read_published() as con:
        want = con.rows("select lead_id, title from marts.fct_leads order by 1")
    assert [t for _, t in want] == ["Первый", "Второй, с запятой"]
    for fmt in export.EXPORT_FORMATS:
        out = tmp_path / f"leads.{fmt}"
        assert export.export(on_postgres, "fct_leads", fmt, out) == 2
        if fmt == "xlsx":
            sheet = load_workbook(out).active
            header, *rows = sheet.iter_rows(values_only=True)
        else:
            read = pyarrow.csv.read_csv if fmt == "csv" else pyarrow.parquet.read_table
            table = read(out)
            header, rows = table.column_names, list(zip(*table.to_pydict().values(),
                                                         strict=True))
        lead_id, title = list(header).index("lead_id"), list(header).index("title")
        assert sorted((r[lead_id], r[title]) for r in rows) == want, fmt
    # a mart with no rows (no deals yet) still exports its columns
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"deals.{fmt}"
        assert export.export(on_postgres, "fct_deals", fmt, out) == 0
        read = pyarrow.csv.read_csv if fmt == "csv" else pyarrow.parquet.read_table
        table = read(out)
        assert table.num_rows == 0 and "deal_id" in table.column_names, fmt


def test_the_password_shows_nowhere(on_postgres, emulator):
    settings = on_postgres
    password = settings.warehouse.parts["password"]
    emulator.call("crm.lead.add", {"fields": {"TITLE": "Лид"}})
    # the project the sync parses is kept for later processes (`dbt_project`): parsed anew here
    # (or by another test worker meanwhile)
    kept = dbt_project.cache_path(transform._manifest_key(settings))
    kept.unlink(missing_ok=True)
    env = {**os.environ, "SOURCES__BITRIX24__WEBHOOK_URL": emulator.webhook,
           "WAREHOUSE_ENGINE": "postgres", "POSTGRES_URL": settings.postgres_url,
           "WAREHOUSE_PATH": str(settings.warehouse_path),
           "DLT_PIPELINES_DIR": str(settings.dlt_dir)}
    cli = [sys.executable, "-m", "orchestration"]
    runs = [subprocess.run([*cli, "sync"], cwd=ROOT, env=env, capture_output=True, text=True),
            subprocess.run([*cli, "status"], cwd=ROOT, env=env, capture_output=True, text=True)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr[-2000:]
    assert "schema marts of the PostgreSQL database" in runs[1].stdout
    # a wrong password fails with one clear line, which names neither password
    wrong = settings.postgres_url.replace(password, "not-the-password")
    failed = subprocess.run([*cli, "sync"], cwd=ROOT, capture_output=True, text=True,
                            env={**env, "POSTGRES_URL": wrong})
    assert failed.returncode == 1
    assert "password authentication failed" in failed.stderr
    assert "Traceback" not in failed.stderr
    printed = "".join(r.stdout + r.stderr for r in [*runs, failed])
    assert password not in printed and "not-the-password" not in printed
    # …nor in any file the run left: dlt's state and traces, dbt's logs and artifacts
    for path in [*settings.warehouse_path.parent.rglob("*"), kept]:
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    assert kept.exists()
    # …nor in the run log
    with settings.warehouse.connect(read_only=True) as con:
        assert password not in str(con.rows("select * from ops.sync_runs"))


def _killed(script: str, settings: Settings, reached, env: dict | None = None) -> None:
    """`script` in a process of its own on the Postgres warehouse, SIGKILLed when `reached()`."""
    process = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **settings_env(settings), **(env or {})})
    deadline = time.monotonic() + 180
    while process.poll() is None and not reached() and time.monotonic() < deadline:
        time.sleep(0.005)
    process.kill()
    process.wait()
    assert process.returncode == -9, "the process ended before the kill"


def _busy(settings: Settings, like: str):
    """Whether a session of the pipeline is running a statement like `like` right now."""
    def reached() -> bool:
        with settings.warehouse.connect(read_only=True) as con:
            return con.value("select count(*) from pg_stat_activity where state = 'active' "
                             "and query ilike ? and pid <> pg_backend_pid()", [like]) > 0
    return reached


def test_a_load_killed_on_postgres_then_rerun_equals_the_portal(on_postgres, demo):
    from tests.warehouse import assert_equal_to_portal, sync

    demo.control("POST", "faults", {"faults": [
        {"kind": "slow", "method": "batch", "delay_seconds": 0.2}]})
    _killed("from orchestration.pipeline import operations, settings; "
            "operations.load(settings.load(), operations.Sync(), rate_per_second=0)",
            on_postgres, _busy(on_postgres, "insert into%bitrix_raw%"))
    demo.control("DELETE", "faults")
    sync(on_postgres)
    assert_equal_to_portal(on_postgres, demo)


def test_a_warehouse_an_earlier_release_loaded_resumes_a_job_committed_but_not_recorded(
    on_postgres, demo
):
    """Earlier releases let dlt put a UNIQUE constraint on `_dlt_id` in every raw and staging
    table: a job loaded again after a kill broke it, and the package stayed stuck for good."""
    from tests.warehouse import assert_equal_to_portal, sync, sync_killed_after_a_load_job_commits

    sync(on_postgres)
    with on_postgres.warehouse.connect() as con:
        tables = con.rows("select table_schema, table_name from information_schema.tables "
                          "where table_schema in ('bitrix_raw', 'bitrix_raw_staging') "
                          "and table_name not in ('_dlt_loads', '_dlt_version')")
        for schema, name in tables:
            con.execute(f"alter table {con.ident(schema, name)} add constraint "
                        f"{con.ident(name + '__dlt_id_key')} unique (_dlt_id)")
    demo.call("crm.lead.add", {"fields": {"TITLE": "После обновления"}})
    sync_killed_after_a_load_job_commits(on_postgres, demo)
    sync(on_postgres)
    assert_equal_to_portal(on_postgres, demo)
    with on_postgres.warehouse.connect() as con:
        assert con.value("select count(*) from pg_constraint c join pg_namespace n "
                         "on n.oid = c.connamespace where c.contype = 'u' "
                         "and n.nspname like 'bitrix_raw%'") == 0


def test_a_publish_killed_mid_swap_leaves_the_old_marts_whole_and_the_next_one_swaps(
    on_postgres, emulator
):
    emulator.call("crm.lead.add", {"fields": {"TITLE": "Первый"}})
    _cycle(on_postgres)
    emulator.call("crm.lead.add", {"fields": {"TITLE": "Второй"}})
    operations.load(on_postgres, operations.Sync(), rate_per_second=0)
    operations.build(on_postgres)
    with on_postgres.warehouse.connect() as con:  # hold the swap at its last step
        con.execute("lock table marts.fct_leads in access share mode")
        _killed("from orchestration.pipeline import operations, settings; "
                "operations.publish(settings.load())",
                on_postgres, _busy(on_postgres, "drop schema if exists marts %"))
    with on_postgres.warehouse.read_published() as con:
        assert con.value("select count(*) from marts.fct_leads") == 1  # the old set, whole
        assert con.value("select count(*) from information_schema.schemata "
                         "where schema_name = 'marts_new'") == 0  # rolled back with it
    assert operations.publish(on_postgres).tables == len(MARTS)
    with on_postgres.warehouse.read_published() as con:
        assert con.value("select count(*) from marts.fct_leads") == 2
