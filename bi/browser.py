"""Superset's dashboards in headless Chromium (Debian's package, driven by Playwright): what
the browser test and the dashboards benchmark share."""

import time
from dataclasses import dataclass

from playwright.sync_api import Browser, Page, Playwright, Response

from bi.bundle import DASHBOARDS, chart_uuids
from orchestration.commands import superset

CHROMIUM = "/usr/bin/chromium"
# as root on a closed network: no sandbox, and none of Chromium's calls home
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHART = '[data-test="chart-grid-component"]'
LOAD_TIMEOUT = 300  # seconds for a dashboard's charts (the benchmark's scale 10 included)


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def log_in(page: Page, running: superset.Superset, username: str = superset.ADMIN,
           password: str | None = None) -> None:
    """Log in as the admin, or as `username` with `password`."""
    page.goto(f"{running.url}/login/")
    page.fill("#username", username)
    page.fill("#password", password or running.password)
    page.click("button[type=submit]")
    # Logged in once the welcome page's answer arrives (its session cookie with it); its many
    # scripts need not finish. Superset's first page after its start took over 30 s once on a
    # busy 2-core CI machine, so the wait is the charts' one.
    page.wait_for_url("**/superset/welcome/**", wait_until="commit", timeout=LOAD_TIMEOUT * 1000)


def chart_count(slug: str) -> int:
    (body,) = (body for body in DASHBOARDS.values() if body["slug"] == slug)
    return len(chart_uuids(body))


@dataclass
class Opened:
    answers: list[Response]  # the chart-data answers
    seconds: float  # from navigation to the last chart drawn


def open_dashboard(page: Page, url: str, charts: int) -> Opened:
    """Open a dashboard and wait until every chart has its data and is drawn."""
    answers: list[Response] = []

    def keep(response: Response) -> None:
        if "/api/v1/chart/data" in response.url:
            answers.append(response)

    page.on("response", keep)
    try:
        started = time.monotonic()
        page.goto(url)
        while time.monotonic() < started + LOAD_TIMEOUT:
            drawn = page.locator(f"{CHART} .dashboard-chart").count()
            loading = page.locator(f'{CHART} [data-test="loading-indicator"]').count()
            if len(answers) >= charts and drawn >= charts and loading == 0:
                seconds = time.monotonic() - started
                page.wait_for_load_state("networkidle")
                return Opened(answers, seconds)
            page.wait_for_timeout(100)
        raise AssertionError(f"{url}: {len(answers)} of {charts} charts answered in time")
    finally:
        page.remove_listener("response", keep)
