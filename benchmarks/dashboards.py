"""Dashboards benchmark: how long the shipped Superset dashboards take to show every chart in
headless Chromium, on the BI copy of demo scale 1 and 10, with Superset from `bi/.venv` run as
`make bi` runs it (one gunicorn worker, 8 threads; chart data cached per published copy).

Per scale: Superset's set-up and start (migrate, import, columns read, gunicorn answering);
per dashboard, the first open after the start (cold: every chart queries the copy), the
median and maximum of `rounds` more opens (warm: from Superset's cache), and the first open
after the pipeline publishes again (every chart queries the new copy), each from navigation
to the last chart drawn; and the slowest chart-data answer the browser saw, cold and warm
(Superset's query on the BI copy, or its cache, plus the serialisation).
"""

import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from benchmarks.run import percentile
from bi.browser import chart_count, launch, log_in, open_dashboard
from emulator.testing import free_port, start_emulator
from orchestration.commands import superset
from orchestration.pipeline import operations
from orchestration.pipeline.settings import Settings


def _bi_copy(scale: float, folder: Path) -> Settings:
    """A synced, built and published demo portal of `scale` (limits off: this measures BI)."""
    settings = Settings(warehouse_path=folder / "warehouse.duckdb", bi_path=folder / "bi.duckdb",
                        dlt_dir=folder / "dlt", portal_timezone=None, alert_webhook_url=None)
    emu = start_emulator("--dataset", "demo", "--scale", str(scale), "--no-rate-limit",
                         "--no-operating-limit")
    try:
        operations.run(settings, operations.Sync(), webhook_url=emu.webhook, rate_per_second=0)
    finally:
        emu.stop()
    return settings


def _slowest_answer_ms(answers) -> float:
    timings = [answer.request.timing for answer in answers]
    return max(t["responseEnd"] - t["requestStart"] for t in timings if t["responseEnd"] > 0)


def measure(scale: float, rounds: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = _bi_copy(scale, Path(tmp))
        with settings.warehouse.read_published() as con:
            ads, leads = con.execute("select (select count(*) from marts.mart_ad_performance), "
                                     "(select count(*) from marts.fct_leads)").fetchall()[0]
        started = time.perf_counter()
        with (superset.running(settings, port=free_port(), folder=Path(tmp) / "superset") as ss,
              sync_playwright() as playwright):
            setup = time.perf_counter() - started
            browser = launch(playwright)
            page = browser.new_page(viewport={"width": 1600, "height": 2600})
            log_in(page, ss)
            rows = []
            for slug in superset.DASHBOARDS:
                seconds, slowest, charts = [], [], chart_count(slug)
                for _ in range(1 + rounds):
                    opened = open_dashboard(page, ss.dashboard_url(slug), charts)
                    seconds.append(opened.seconds)
                    slowest.append(_slowest_answer_ms(opened.answers))
                settings.warehouse.publish()  # the same marts in a new file, as every cycle
                published = open_dashboard(page, ss.dashboard_url(slug), charts).seconds
                rows.append({"scale": scale, "leads": leads, "ads": ads, "setup": setup,
                             "dashboard": slug, "charts": charts, "cold": seconds[0],
                             "warm": seconds[1:], "published": published,
                             "slowest_ms": slowest})
            browser.close()
    return rows


def run(scales: tuple[float, ...], rounds: int) -> list[str]:
    lines = [
        "## Dashboards (Superset on the BI copy, headless Chromium)",
        "",
        f"Each dashboard opened once after Superset's start (cold: every chart queries the BI "
        f"copy), then {rounds} more times (warm: Superset answers from its cache of that copy), "
        "then once after the pipeline published the copy again (every chart queries the new "
        "file); seconds from navigation to the last chart drawn.",
        "",
        "| demo scale | leads | ads | set-up + start, s | dashboard | charts | cold, s | "
        "warm p50, s | warm max, s | after a publish, s | slowest chart answer, ms "
        "(cold / warm p50) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scale in scales:
        for row in measure(scale, rounds):
            lines.append(
                f"| {row['scale']:g} | {row['leads']:,} | {row['ads']:,} | {row['setup']:.0f} | "
                f"{row['dashboard']} | {row['charts']} | {row['cold']:.1f} | "
                f"{statistics.median(row['warm']):.1f} | {max(row['warm']):.1f} | "
                f"{row['published']:.1f} | {row['slowest_ms'][0]:.0f} / "
                f"{percentile(row['slowest_ms'][1:], 0.5):.0f} |"
            )
    return lines
