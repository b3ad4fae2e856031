"""`bitrix-warehouse demo`: the whole pipeline on the bundled emulator, end to end.

Starts the emulator with the demo company (its real rate limit on), syncs it into a fresh demo
warehouse, builds the marts with dbt, and prints what they say. The demo warehouse lives in
`data/demo/`, apart from the one `sync` fills, and is rebuilt on every run.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import duckdb
import requests

from orchestration import ingest
from orchestration.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(scale: float) -> tuple[subprocess.Popen, str]:
    """The emulator in a child process; returns it and its webhook URL once it answers."""
    port, secret = _free_port(), secrets.token_hex(12)
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "emulator", "--dataset", "demo",
         "--scale", str(scale), "--port", str(port), "--secret", secret],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    webhook = f"http://127.0.0.1:{port}/rest/1/{secret}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the emulator stopped: {process.stderr.read()[-500:]}")
        try:
            requests.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1)
            return process, webhook
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the emulator did not start within 5 minutes")


def build_marts(settings: Settings) -> None:
    env = {**os.environ, "WAREHOUSE_PATH": str(settings.warehouse_path),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    dbt = Path(sys.executable).with_name("dbt")
    result = subprocess.run(
        [str(dbt), "build", "--project-dir", "dbt_project", "--profiles-dir", "dbt_project",
         "--target-path", str(settings.warehouse_path.parent / "dbt_target")],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    if result.returncode != 0:
        lines = result.stdout.splitlines()
        failures = [line for line in lines if "ERROR" in line or "FAIL" in line]
        raise RuntimeError("dbt build failed: " + "; ".join(failures[-3:]))


SUMMARY = {
    "Leads by source (all time)": """
        select source_id, sum(leads_received) as leads, sum(quality_leads) as quality,
               sum(deals_won) as won, sum(revenue) as revenue
        from marts.mart_lead_sources_daily group by 1 order by leads desc limit 6""",
    "Top ads by revenue": """
        select ad_id, ad_group, leads, deals_won, revenue, revenue_per_lead
        from marts.mart_ad_performance order by revenue_rank, ad_id limit 5""",
    "Lead funnel, last complete month": """
        select stage_name, entered, reached, round(conversion_from_previous, 3) as conversion
        from marts.mart_funnel_conversion
        where entity = 'lead' and cohort_month = (
            select max(cohort_month) - interval 1 month from marts.mart_funnel_conversion)
        order by stage_position""",
    "Data quality": """
        select check_name, failing_rows from marts.mart_data_quality
        where failing_rows > 0 order by failing_rows desc""",
    "Freshness": """
        select entity, row_count, last_synced_at from marts.mart_pipeline_freshness""",
}


def summary(settings: Settings) -> str:
    lines = []
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        for title, sql in SUMMARY.items():
            cur = con.execute(sql)
            header = [d[0] for d in cur.description]
            rows = [[("" if v is None else str(v)) for v in row] for row in cur.fetchall()]
            widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
                      for i, h in enumerate(header)]
            lines += ["", title]
            lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
            lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True))
                      for r in rows]
    return "\n".join(lines)


def run(settings: Settings, scale: float, echo) -> None:
    demo = replace(
        settings,
        warehouse_path=settings.warehouse_path.parent / "demo" / "warehouse.duckdb",
        dlt_dir=settings.warehouse_path.parent / "demo" / "dlt",
    )
    shutil.rmtree(demo.warehouse_path.parent, ignore_errors=True)
    echo(f"Starting the emulator with the demo company (scale {scale:g})…")
    process, webhook = start_emulator(scale)
    try:
        started = time.monotonic()
        echo("Syncing it at the portal's real rate limit (2 requests/s)…")
        rows = ingest.sync(demo, webhook_url=webhook)
        ingest.reconcile(demo, webhook_url=webhook)
        echo(f"  loaded {sum(rows.values()):,} rows in {time.monotonic() - started:.0f} s")
        echo("Building the marts (dbt build: models, data tests, unit tests)…")
        build_marts(demo)
        echo(summary(demo))
        echo(f"\nThe demo warehouse: {demo.warehouse_path} (DuckDB; schema marts).")
    finally:
        process.terminate()
        process.wait(30)
