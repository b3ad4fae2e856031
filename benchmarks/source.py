"""Source benchmark: full load of the demo portal through the real rate limit, and an incremental
pass after 1,000 changes. Each sync runs in its own process, so its peak memory is its own."""

import json
import math
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import requests

from emulator.testing import start_emulator
from orchestration.pipeline.settings import Settings
from orchestration.pipeline.warehouse.local_postgres import LocalServer
from sources.bitrix24 import settings as source_settings

ROOT = Path(__file__).resolve().parents[1]

SYNC = """
import json, sys, time
from benchmarks.memory import peak_rss_mb
from orchestration.pipeline import operations, settings
started = time.perf_counter()
result = operations.load(settings.load(), operations.Sync(), **json.loads(sys.argv[1]))
print(json.dumps({"seconds": time.perf_counter() - started, "rows": result.rows,
                  "steps": result.seconds, "peak_rss_mb": peak_rss_mb()}))
"""

# Every list a full load reads row by row (dictionaries aside).
LISTS = ("lead", "deal", "lead_history", "deal_history", "contact", "activity", "product_row")


def rate_floor(counts: dict[str, int]) -> tuple[int, float]:
    """A portal's first load at its floor: the physical minimum of requests (every list's rows
    over 2,500 a request) and the seconds the portal's bucket needs for them (2 req/s after a
    burst of 50); 0 s for a portal read within the burst."""
    minimum = math.ceil(sum(counts[e] for e in LISTS) / source_settings.ROWS_PER_REQUEST)
    return minimum, max(0, minimum - source_settings.BURST) / source_settings.RATE_PER_SECOND


def pipeline_env(emu, folder: str) -> dict:
    """The environment of a pipeline process syncing `emu` into a warehouse in `folder`."""
    return {
        **os.environ,
        "SOURCES__BITRIX24__WEBHOOK_URL": emu.webhook,
        "WAREHOUSE_PATH": f"{folder}/warehouse.duckdb",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def warehouse_on(stack: ExitStack, name: str, folder: str, env: dict) -> Settings:
    """The engine `name`'s warehouse in `folder` (Postgres: a server of its own there); the
    sync process's `env` is pointed at it."""
    root = Path(folder)
    warehouse = Settings(warehouse_path=root / "warehouse.duckdb", bi_path=root / "bi.duckdb",
                         dlt_dir=root / "dlt", portal_timezone=None, alert_webhook_url=None)
    if name == "duckdb":
        return warehouse
    server = LocalServer(Path(tempfile.mkdtemp(prefix="bw-bench-pg-"))).start()
    stack.callback(server.stop)
    url = server.create_database("warehouse")
    env |= {"WAREHOUSE_ENGINE": "postgres", "POSTGRES_URL": url}
    return replace(warehouse, engine="postgres", postgres_url=url)


def sync_process(env: dict, **options) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SYNC, json.dumps(options)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _change(emu, n: int) -> None:
    """n changes through the API (limits off meanwhile): stage moves, reassignments, amounts."""
    emu.configure(rate_limit={"enabled": False})
    leads = [r["ID"] for r in emu.records("lead")[-n:]]
    commands = {}
    for i, lead_id in enumerate(leads):
        fields = "fields[ASSIGNED_BY_ID]=2" if i % 2 else "fields[STATUS_ID]=UC_HOT"
        commands[f"c{i}"] = f"crm.lead.update?id={lead_id}&{fields}"
        if len(commands) == 50 or i == len(leads) - 1:
            emu.call("batch", {"cmd": commands})
            commands = {}


def run(scales: tuple[float, ...], changes: int) -> list[str]:
    lines = [
        "## Source (dlt → DuckDB)",
        "",
        "Full load of the demo portal with the portal's real limit on (2 req/s, burst 50), "
        f"then one incremental pass after {changes:,} changes. Requests from the emulator's "
        "`/_emulator/stats`; the physical minimum is ceil(rows of every list read / 2,500): "
        "leads, deals, stage history, contacts, activities and product rows (records loaded "
        "count a deal's product rows as one record). Wall time is the whole `sync` process: "
        "extract, normalize and load into DuckDB.",
        "",
        "| scale | pass | records loaded | HTTP requests | minimum | wall, s | records/s "
        "| peak RSS, MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for scale in scales:
        emu = start_emulator("--dataset", "demo", "--scale", str(scale), "--no-operating-limit")
        try:
            with tempfile.TemporaryDirectory() as tmp:
                env = pipeline_env(emu, tmp)
                portal_rows = sum(len(emu.records(e)) for e in LISTS)
                for label, prepare in (
                    ("full", None),
                    (f"after {changes:,} changes", changes),
                    ("no changes", 0),
                ):
                    if prepare:
                        _change(emu, prepare)
                    # Configuring the bucket empties it, as an idle minute would.
                    emu.configure(rate_limit={"enabled": True, "rate": 2, "burst": 50})
                    requests.delete(f"{emu.base}/_emulator/stats", timeout=10)
                    result = sync_process(env)
                    stats = emu.stats()
                    # Records, not rows: each lead and deal also lands in its versions table.
                    rows = sum(n for t, n in result["rows"].items() if not t.endswith("_versions"))
                    minimum = math.ceil(portal_rows / 2500) if label == "full" else 1
                    lines.append(
                        f"| {scale:g} | {label} | {rows:,} | {stats['http_requests']} | {minimum} "
                        f"| {result['seconds']:.1f} | {rows / result['seconds']:,.0f} "
                        f"| {result['peak_rss_mb']:.0f} |"
                    )
                    assert stats["errors"] == {}, stats["errors"]
        finally:
            emu.stop()
    return lines
