"""`bitrix-warehouse sync` and `reconcile` as a user runs them."""

import os
import subprocess
import sys
from types import SimpleNamespace

from click.testing import CliRunner

from emulator.testing import ROOT
from orchestration.commands.cli import main


def _env(warehouse, webhook, **settings) -> dict:
    return {"WAREHOUSE_PATH": str(warehouse.warehouse_path),
            "DLT_PIPELINES_DIR": str(warehouse.dlt_dir), "BI_PATH": str(warehouse.bi_path),
            "SOURCES__BITRIX24__WEBHOOK_URL": webhook, **settings}


def _run(args, warehouse, webhook, **settings):
    """The command in this process (a cold process costs seconds of imports; one test below
    runs the real `python -m orchestration`)."""
    result = CliRunner().invoke(main, args, env=_env(warehouse, webhook, **settings),
                                prog_name="bitrix-warehouse")
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout,
                           stderr=result.stderr)


def _subprocess(args, warehouse, webhook, **settings):
    env = {**os.environ, **_env(warehouse, webhook, **settings)}
    if webhook is None:
        env.pop("SOURCES__BITRIX24__WEBHOOK_URL")
    return subprocess.run([sys.executable, "-m", "orchestration", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_sync_loads_then_reports_nothing_new_and_reconcile_marks_deletions(warehouse, demo):
    demo.configure(rate_limit={"enabled": False})
    # a first load of several windows: each said as it commits, the totals over all of them
    first = _run(["sync"], warehouse, demo.webhook, SOURCES__BITRIX24__WINDOW_ROWS="10000")
    assert first.returncode == 0, first.stderr
    assert first.stderr.count("First load: a window committed") >= 2, first.stderr
    assert f"leads {len(demo.records('lead')):,}," in first.stdout
    second = _run(["sync"], warehouse, demo.webhook)
    assert second.returncode == 0 and "nothing new" in second.stdout
    demo.call("crm.deal.delete", {"id": int(demo.records("deal")[0]["ID"])})
    marked = _run(["reconcile"], warehouse, demo.webhook)
    assert marked.returncode == 0 and "Deletion marks written: 1" in marked.stdout
    for result in (first, second, marked):
        assert demo.secret not in result.stdout + result.stderr


def test_sync_with_bad_credentials_says_so_in_one_line(warehouse, demo):
    result = _subprocess(["sync"], warehouse, demo.webhook.replace(demo.secret, "bad"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "INVALID_CREDENTIALS" in result.stderr and "/rest/1/***/" in result.stderr


def test_sync_without_a_webhook_says_how_to_set_it(warehouse, demo):
    result = _run(["sync"], warehouse, None)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "SOURCES__BITRIX24__WEBHOOK_URL" in result.stderr


def test_sync_publishes_then_status_and_export_read_the_bi_copy(warehouse, demo, tmp_path):
    import csv

    import duckdb
    from openpyxl import load_workbook

    demo.configure(rate_limit={"enabled": False})
    assert _run(["sync"], warehouse, demo.webhook).returncode == 0
    status = _run(["status"], warehouse, demo.webhook)
    assert status.returncode == 0, status.stderr
    assert "fresh: last successful sync" in status.stdout
    assert "leads" in status.stdout and "sync  success" in status.stdout

    with duckdb.connect(str(warehouse.bi_path), read_only=True) as con:
        expected = con.execute("select count(*) from marts.mart_lead_sources_daily").fetchall()
    for fmt in ("xlsx", "csv", "parquet"):
        out = tmp_path / f"daily.{fmt}"
        result = _run(["export", "mart_lead_sources_daily", "--format", fmt, "--out", str(out)],
                      warehouse, None)
        assert result.returncode == 0, result.stderr
        assert f"Wrote {expected[0][0]:,} rows" in result.stdout
    sheet = load_workbook(tmp_path / "daily.xlsx", read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("portal", "lead_date", "source_id") and len(rows) - 1 == expected[0][0]
    with open(tmp_path / "daily.csv", newline="") as f:
        assert sum(1 for _ in csv.reader(f)) - 1 == expected[0][0]
    with duckdb.connect() as con:
        parquet = con.execute(f"select count(*) from '{tmp_path / 'daily.parquet'}'").fetchall()
    assert parquet == expected
    # a mart with a list column (example IDs) becomes text cells in Excel
    quality = _run(["export", "mart_data_quality", "--format", "xlsx", "--out",
                    str(tmp_path / "quality.xlsx")], warehouse, None)
    assert quality.returncode == 0, quality.stderr


def test_export_of_an_unknown_mart_lists_the_marts_and_status_before_any_sync_says_so(
    warehouse, demo, tmp_path
):
    status = _run(["status"], warehouse, None)
    assert status.returncode == 0 and "not published yet" in status.stdout
    missing = _run(["export", "mart_nope", "--out", str(tmp_path / "x.xlsx")], warehouse, None)
    assert missing.returncode == 1 and "does not exist yet" in missing.stderr
    _run(["sync"], warehouse, demo.webhook)
    unknown = _run(["export", "mart_nope", "--out", str(tmp_path / "x.xlsx")], warehouse, None)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert ("no mart 'mart_nope'; the marts are: dim_managers, fct_deals, fct_deleted_records,"
            " fct_leads" in unknown.stderr)


def test_errors_are_one_line_with_a_hint_and_the_traceback_only_under_verbose(warehouse, demo):
    bad = demo.webhook.replace(demo.secret, "bad-secret-1")
    plain = _run(["sync"], warehouse, bad)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert "hint: run again with --verbose" in plain.stderr
    verbose = _run(["--verbose", "sync"], warehouse, bad)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr
    for result in (plain, verbose):
        assert "bad-secret-1" not in result.stdout + result.stderr


def test_backfill_command_checks_its_arguments_then_rebuilds(warehouse, demo):
    assert _run(["backfill", "--since", "March"], warehouse, demo.webhook).returncode == 2
    wrong = _run(["backfill", "--since", "2024-01-01", "--entities", "contacts"], warehouse,
                 demo.webhook)
    assert wrong.returncode == 2 and "choose from leads, deals" in wrong.stderr
    # regression: dlt's InvalidResourceDataTypeMultiplePipes…, and an OverflowError
    ancient = _run(["backfill", "--since", "0001-01-01"], warehouse, demo.webhook)
    assert ancient.returncode == 2 and "from 1970-01-01 to 9999-12-30" in ancient.stderr
    assert "Traceback" not in ancient.stderr
    _run(["sync", "--no-build"], warehouse, demo.webhook)
    done = _run(["backfill", "--since", "2000-01-01", "--entities", "deals,deals"], warehouse,
                demo.webhook)
    assert done.returncode == 0, done.stderr
    assert "Loaded: nothing new" in done.stdout and "transform" in done.stdout


def test_build_publishes_what_loads_brought_and_a_full_refresh_what_was_edited_by_hand(
        warehouse, emulator):
    emulator.call("crm.lead.add", {"fields": {"TITLE": "Окна", "SOURCE_ID": "WEB"}})
    assert _run(["sync"], warehouse, emulator.webhook).returncode == 0
    with warehouse.warehouse.connect() as con:  # outside a load: no mark says it changed
        con.execute("update bitrix_raw.leads set title = 'Двери'")

    def published() -> list:
        with warehouse.warehouse.read_published() as con:
            return [title for (title,) in con.execute("select title from marts.fct_leads")
                    .fetchall()]

    built = _run(["build"], warehouse, emulator.webhook)
    assert built.returncode == 0, built.stderr
    assert "published" in built.stdout and published() == ["Окна"]
    refreshed = _run(["build", "--full-refresh"], warehouse, emulator.webhook)
    assert refreshed.returncode == 0, refreshed.stderr
    assert published() == ["Двери"]
