"""Many portals in one deployment (DuckDB): how a round and the event worker grow with them.

For each number of portals, every portal is an emulator process of its own (the demo company at
`scale`, a seed each, so no two are alike; the portal's real rate limit, 2 req/s after a burst of
50), registered in one warehouse with its own webhook and outgoing-webhook token (the first is
`main`, configured the old way). Then:

1. **the first round**: `operations.run` (what `bitrix-warehouse sync` runs): every portal's
   first load, `PARALLEL_LOADS` at a time (each commit under the writer lock), then one dbt
   build and one publish; against the portals' rate floors (each (minimum requests − 50) / 2 s;
   see the first_load section): their sum, what loading one after another costs at least, and
   the largest, what loading all at once costs at least;
2. **a round of idle passes**: nothing changed; one request a portal, one build, one publish;
3. **a round with changes**: a new lead on every portal;
4. **the event worker** serving every portal (`bitrix-warehouse worker`, each portal's outgoing
   webhook bound to its one receiver): `changes` new leads, each on the next portal in turn,
   `interval` s apart; change → visible in BI_PATH, p50 and p95, as a BI tool polling it sees it.

Each round runs in a process of its own that reports its peak resident set; the worker's is
read from /proc before it stops.
"""

import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.freshness import Poller
from benchmarks.memory import peak_rss_mb
from benchmarks.run import percentile
from benchmarks.source import pipeline_env, rate_floor
from emulator.http.launcher import free_port
from emulator.testing import start_emulator
from orchestration.pipeline.portals import Portal, Registry
from orchestration.worker import events

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

ROUND = """
import json, time
from benchmarks.memory import peak_rss_mb
from orchestration.pipeline import operations, settings
started = time.perf_counter()
cycle = operations.run(settings.load(), operations.Sync())
print(json.dumps({"seconds": time.perf_counter() - started, "steps": cycle.seconds,
                  "rows": sum(cycle.rows.values()), "peak_rss_mb": peak_rss_mb()}))
"""


def _round(env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", ROUND], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"a round failed: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _portals(count: int, scale: float, smoke: bool) -> list:
    limits = ["--no-rate-limit"] if smoke else []

    def start(i: int):
        return start_emulator("--dataset", "demo", "--scale", str(scale), "--seed", str(42 + i),
                              "--no-operating-limit", *limits, secret=f"portal-{i}-secret")

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(start, range(count)))


def _worker(env: dict, emus: list, changes: int, interval: float, folder: str) -> dict:
    """The event worker on every portal: `changes` new leads, one portal after another."""
    port = free_port()
    url = f"http://127.0.0.1:{port}{events.PATH}"
    registry = Registry(Path(folder) / "portals.toml", Path(folder) / ".dlt" / "secrets.toml")
    env = {**env, "SOURCES__BITRIX24__APPLICATION_TOKEN": emus[0].bind_events(url)}
    for i, emu in enumerate(emus[1:], start=1):
        registry.add(Portal(f"p{i:02d}"), None, emu.bind_events(url))
    log_path = Path(folder) / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [str(BIN / "bitrix-warehouse"), "worker", "--port", str(port),
             "--test-every", "3600", "--poll-seconds", "30"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    poller = Poller(Path(env["BI_PATH"]))
    poller.start()
    try:
        deadline = time.time() + 900  # its catch-up passes of every portal, and its first build
        while "published" not in log_path.read_text():
            if time.time() > deadline or worker.poll() is not None:
                raise RuntimeError(f"the worker did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.5)
        for i in range(changes):
            index = i % len(emus)
            name = "main" if index == 0 else f"p{index:02d}"
            lead = int(emus[index].call("crm.lead.add", {"fields": {
                "TITLE": f"portal probe {i}", "SOURCE_ID": "WEB"}})["result"])
            poller.expect((name, lead), time.time(),
                          f"select 1 from marts.fct_leads where portal = '{name}' "
                          f"and lead_id = {lead}")
            time.sleep(interval)
        deadline = time.time() + 300
        while poller.pending and time.time() < deadline:
            time.sleep(0.5)
        peak = peak_rss_mb(worker.pid)
    finally:
        poller.stopped.set()
        worker.send_signal(signal.SIGTERM)
        worker.wait(120)
    lags = list(poller.seen.values())
    if not lags:
        raise RuntimeError(f"no change became visible: {log_path.read_text()[-2000:]}")
    return {"seen": len(lags), "missed": len(poller.pending), "p50": statistics.median(lags),
            "p95": percentile(lags, 0.95), "errors": len(poller.errors), "peak_rss_mb": peak}


def measure(count: int, scale: float, changes: int, interval: float, smoke: bool,
            first_only: bool = False) -> str:
    """One row of the table; `first_only`: the first round alone (the other columns —), every
    portal read at once (`PARALLEL_LOADS` = `count`)."""
    emus = _portals(count, scale, smoke)
    try:
        with tempfile.TemporaryDirectory() as folder:
            env = {**pipeline_env(emus[0], folder), "BI_PATH": f"{folder}/bi.duckdb",
                   "DLT_PROJECT_DIR": folder}
            if smoke:
                env["SOURCES__BITRIX24__RATE_PER_SECOND"] = "0"
            if first_only:
                env["PARALLEL_LOADS"] = str(count)
            registry = Registry(Path(folder) / "portals.toml",
                                Path(folder) / ".dlt" / "secrets.toml")
            registry.add(Portal(), None)  # main: its webhook set the old way, in `env`
            for i, emu in enumerate(emus[1:], start=1):
                registry.add(Portal(f"p{i:02d}"), emu.webhook)
            floors = [rate_floor(emu.control("GET", "health")["counts"])[1] for emu in emus]
            floor = sum(floors)
            first = _round(env)
            ratio = f"{first['seconds'] / floor:.2f}" if floor else "—"
            if first_only:
                return (f"| {count} × {scale:g}, {count} at a time | {first['rows']:,} | "
                        f"{floor:.0f} / {max(floors):.0f} | {first['seconds']:.1f} | {ratio} | "
                        "— | — | "
                        f"{first['peak_rss_mb']:.0f} | — | — | — | — | — |")
            idle = _round(env)
            for i, emu in enumerate(emus):
                emu.call("crm.lead.add", {"fields": {"TITLE": f"round change {i}"}})
            changed = _round(env)
            worker = _worker(env, emus, changes, interval, folder)
    finally:
        for emu in emus:
            emu.stop()
    return (
        f"| {count} | {first['rows']:,} | {floor:.0f} / {max(floors):.0f} | "
        f"{first['seconds']:.1f} | {ratio} | "
        f"{idle['seconds']:.1f} ({idle['steps']['pass']:.1f} / {idle['steps']['transform']:.1f} / "
        f"{idle['steps']['publish']:.1f}) | {changed['seconds']:.1f} | "
        f"{max(first['peak_rss_mb'], idle['peak_rss_mb'], changed['peak_rss_mb']):.0f} | "
        f"{worker['seen']} / {worker['missed']} | {worker['p50']:.1f} | {worker['p95']:.1f} | "
        f"{worker['peak_rss_mb']:.0f} | {worker['errors']} |"
    )


def run(counts: tuple[int, ...], scale: float, changes: int, interval: float,
        smoke: bool, first_loads: tuple[int, float] | None = None) -> list[str]:
    """`first_loads`: (portals, scale) of a first round past the burst, against its floor."""
    rows = [measure(count, scale, changes, interval, smoke) for count in counts]
    if first_loads:
        rows.append(measure(*first_loads, changes, interval, smoke, first_only=True))
    return [
        "## Many portals in one deployment (DuckDB)",
        "",
        (f"Smoke: scale {scale:g} each, no rate limit." if smoke else
         f"Each portal the demo company at scale {scale:g} (a seed each), an emulator of its "
         "own with the portal's real rate limit (2 req/s, burst 50); one warehouse. A round is "
         "`operations.run` (what `bitrix-warehouse sync` runs) in a process of its own: every "
         "portal's pass, 4 at a time (`PARALLEL_LOADS`; the last row: all at once), each "
         "commit under the writer lock, then one dbt build and one publish. The floors are "
         "the sum of the portals' rate floors and the largest (0 for a portal read within the "
         "burst; the last row: portals big enough to pass it); × floor is against the sum. "
         "The worker serves every portal; "
         f"{changes} new leads, each on the next portal, {interval:g} s apart; BI_PATH polled "
         "read-only every 0.5 s."),
        "",
        "| portals | first round: rows | floor, s (sum / largest) | first round, s | × floor | "
        "idle round, s (passes / dbt / publish) | round with a change a portal, s | "
        "rounds' peak RSS, MB | worker: changes seen / missed | p50, s | p95, s | "
        "worker peak RSS, MB | reader errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]
