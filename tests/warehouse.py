"""Test support for the warehouse: run a sync, read tables, compare with the portal."""

import json
import os
import signal
import subprocess
import sys
import time

from dlt.common.normalizers.naming.snake_case import NamingConvention

from emulator.testing import ROOT
from orchestration.pipeline import operations
from orchestration.pipeline.settings import Settings
from sources.bitrix24 import settings as source_settings
from sources.bitrix24.helpers import clean_crm_record

NAMING = NamingConvention()
# The BI contract: every table of schema `marts`, pinned so none changes silently.
MARTS = {
    "dim_managers", "fct_leads", "fct_deals", "fct_stage_intervals", "fct_deleted_records",
    "mart_lead_sources_daily", "mart_ad_performance", "mart_funnel_conversion",
    "mart_funnel_by_manager", "mart_manager_performance", "mart_lead_take_up_daily",
    "mart_stage_activity_daily", "mart_cross_sell", "mart_product_sales", "mart_deal_losses",
    "mart_attribution", "mart_top_sources_monthly",
    "mart_data_quality", "mart_pipeline_freshness",
}
# Columns the pipeline adds; every other column comes from the portal.
ADDED = {"_dlt_load_id", "_dlt_id", "observed_at", "version_key", "is_recurring_template"}


def add_lead(emulator, title: str) -> None:
    """A lead from the web form, written through the REST API."""
    emulator.call("crm.lead.add", {"fields": {"TITLE": title, "SOURCE_ID": "WEB"}})


def sync(settings: Settings, **options) -> dict:
    """One incremental load (no rebuild), unthrottled: the rows loaded per table."""
    return operations.load(settings, operations.Sync(), **{"rate_per_second": 0, **options}).rows


def reconcile(settings: Settings) -> dict:
    """One deletion reconcile (no rebuild), unthrottled: the rows loaded per table."""
    return operations.load(settings, operations.Reconcile(), rate_per_second=0).rows


def table(settings: Settings, name: str, order: str = "id",
          schema: str = "bitrix_raw") -> list[dict]:
    with settings.warehouse.connect(read_only=True) as con:
        cur = con.execute(f"select * from {con.ident(schema, name)} order by {order}")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def scalar(settings: Settings, sql: str):
    with settings.warehouse.connect(read_only=True) as con:
        return con.value(sql)


def expected_crm(record: dict, entity: str) -> dict:
    """What the warehouse should hold for a portal record (the emulator's wire encoding)."""
    datetimes, dates = (
        (source_settings.LEAD_DATETIMES, source_settings.LEAD_DATES) if entity == "lead"
        else (source_settings.DEAL_DATETIMES, source_settings.DEAL_DATES)
    )
    # Multiple fields (PHONE, EMAIL, WEB, IM, LINK) come only when named; the source does not.
    # Customers' personal data is not loaded (no opt-in here).
    raw = {k: v for k, v in record.items()
           if not isinstance(v, list) and k not in source_settings.PERSONAL_FIELDS}
    return {NAMING.normalize_identifier(k): v
            for k, v in clean_crm_record(raw, datetimes, dates).items()}


def loaded_crm(row: dict) -> dict:
    out = {k: v for k, v in row.items() if k not in ADDED}
    if isinstance(out.get("bad_values"), str):
        out["bad_values"] = json.loads(out["bad_values"])
    return out


def assert_equal_to_portal(settings: Settings, emulator, deleted: set[int] = frozenset(),
                           schema: str = "bitrix_raw") -> None:
    """The warehouse's current leads and deals equal the portal's, field for field (`deleted`:
    lead IDs that reconcile marked deleted, which the warehouse keeps and the portal has not);
    `schema`: the portal's raw schema."""
    for entity, name in (("lead", "leads"), ("deal", "deals")):
        portal = {int(r["ID"]): expected_crm(r, entity) for r in emulator.records(entity)}
        loaded = {r["id"]: loaded_crm(r) for r in table(settings, name, schema=schema)
                  if entity != "lead" or r["id"] not in deleted}
        assert sorted(loaded) == sorted(portal), name
        for record_id, want in portal.items():
            got = loaded[record_id]
            assert {k: got.get(k) for k in want} == want, (name, record_id)
    for entity, name in (("lead_history", "lead_stage_history"),
                         ("deal_history", "deal_stage_history")):
        portal_ids = {int(r["ID"]) for r in emulator.records(entity)}
        loaded = table(settings, name, schema=schema)
        loaded_ids = [r["id"] for r in loaded]
        assert len(loaded_ids) == len(set(loaded_ids)), name
        assert portal_ids <= set(loaded_ids), name
        # A portal drops a deleted record's history; the warehouse keeps what it loaded. That
        # includes a record created and deleted between two passes, which reconcile never saw.
        owners = {int(r["ID"]) for r in emulator.records(entity.removesuffix("_history"))}
        extra_owners = {r["owner_id"] for r in loaded if r["id"] not in portal_ids}
        assert not extra_owners & owners, name


INCREMENTAL = ("int_stage_intervals", "int_deal_versions_summarised")  # the incremental models


def incremental_rows(settings: Settings) -> dict[str, list]:
    """Each incremental model's rows as {column: value} (an upgraded table has `portal`
    last), sorted: to compare with what a full rebuild makes."""
    out = {}
    with settings.warehouse.connect(read_only=True) as con:
        for model in INCREMENTAL:
            cur = con.execute(f"select * from {con.ident('intermediate', model)}")
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
            out[model] = sorted(rows, key=lambda r: repr(sorted(r.items())))
    return out


def warehouse_snapshot(settings: Settings) -> dict:
    """Every table's rows without load bookkeeping: for comparing two warehouses."""
    skip = {"_dlt_load_id", "_dlt_id", "observed_at"}
    out = {}
    with settings.warehouse.connect(read_only=True) as con:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'bitrix_raw'"
            " and table_name not like '\\_dlt%' escape '\\'").fetchall()]
        for name in names:
            cur = con.execute(f"select * from bitrix_raw.{name}")
            cols = [d[0] for d in cur.description]
            rows = [tuple((c, v) for c, v in zip(cols, r, strict=True) if c not in skip)
                    for r in cur.fetchall()]
            out[name] = sorted(rows, key=repr)
    return out



SYNC_SCRIPT = (
    "from orchestration.pipeline import operations, settings; "
    "operations.load(settings.load(), operations.Sync(), rate_per_second=0)"
)


def settings_env(settings: Settings) -> dict:
    """The environment that makes `settings.load()` in another process give `settings`'s
    warehouse (either engine)."""
    env = {"WAREHOUSE_ENGINE": settings.engine, "WAREHOUSE_PATH": str(settings.warehouse_path),
           "DLT_PIPELINES_DIR": str(settings.dlt_dir)}
    if settings.postgres_url:
        env["POSTGRES_URL"] = settings.postgres_url
    return env


def _sync_process(settings: Settings, emulator, script: str, env: dict) -> subprocess.Popen:
    """`script` in a process of its own with `settings` and `env` on top."""
    return subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "SOURCES__BITRIX24__WEBHOOK_URL": emulator.webhook,
             **settings_env(settings), **env})


def sync_killed_after_a_load_job_commits(settings: Settings, emulator) -> None:
    """A `sync` SIGKILLed at the narrowest point of a load: the first load job's rows are
    committed in the warehouse, and dlt has not yet written the marker that says so, so the
    next run loads that job's file again."""
    process = _sync_process(settings, emulator, (
        "import os, signal\n"
        "from dlt.common.storages.load_package import PackageStorage\n"
        "PackageStorage.save_pending_transition = "
        "lambda *args: os.kill(os.getpid(), signal.SIGKILL)\n"
        + SYNC_SCRIPT), {})
    output = process.communicate(timeout=300)[0].decode(errors="replace")
    assert process.returncode == -signal.SIGKILL, output[-2000:]


def kill_sync_when(settings: Settings, emulator, reached, *, script: str = SYNC_SCRIPT,
                   slow=None, **env) -> None:
    """A `sync` (`script`) in a process of its own, on a slow portal (each batch 0.3 s; `slow`:
    another emulator than the main portal's `emulator`), killed with SIGKILL as soon as
    `reached(settings, emulator)` holds; `env`: more settings for it."""
    slow = slow or emulator
    slow.control("POST", "faults", {"faults": [
        {"kind": "slow", "method": "batch", "delay_seconds": 0.3}]})
    process = _sync_process(settings, emulator, script, env)
    deadline = time.monotonic() + 180
    while (process.poll() is None and not reached(settings, emulator)
           and time.monotonic() < deadline):
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    slow.control("DELETE", "faults")
    assert process.returncode == -signal.SIGKILL, "the sync ended before the kill"
