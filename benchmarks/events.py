"""Change on the portal → visible in BI_PATH with the event worker, and the worker's cycle split.

The emulator serves the demo company. The first load is a `bitrix-warehouse sync` without the
client's rate limit (the `source` section measures first loads); then the portal's real rate
limit is switched on (2 req/s, burst 50) and `bitrix-warehouse worker` starts as in production,
its receiver bound to the portal's six lead/deal events through `event.bind`. A writer makes
`changes` changes through the REST API, `interval` seconds apart (not a multiple of a cycle, so
they fall at every phase of one): a new lead, then a deal's amount changed, in turn. A poller
opens BI_PATH read-only twice a second, as a BI tool would, and notes when each change shows in
`marts.fct_leads` / `marts.fct_deals`.

The cycle split is read from the worker's log (one line per cycle that published): dlt's
extract / normalize / load, the whole pass, `dbt run`, the copy.
"""

import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.freshness import Poller
from benchmarks.run import percentile
from benchmarks.source import pipeline_env
from emulator.http.launcher import free_port
from emulator.testing import start_emulator
from orchestration.worker import events

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CYCLE = re.compile(r"(event|poll|refresh): ([\d,]+) rows, published; (.*)$")
PARTS = ("extract", "normalize", "load", "pass", "transform", "publish")


def _changes(emu, poller: Poller, count: int, interval: float) -> None:
    deals = [int(d["ID"]) for d in emu.call("crm.deal.list", {"select": ["ID"],
                                                               "order": {"ID": "DESC"}})["result"]]
    for i in range(count):
        if i % 2 == 0 or not deals:
            lead = int(emu.call("crm.lead.add", {"fields": {"TITLE": f"event probe {i}",
                                                            "SOURCE_ID": "WEB"}})["result"])
            poller.expect(("lead", lead), time.time(),
                          f"select 1 from marts.fct_leads where lead_id = {lead}")
        else:
            deal, amount = deals[i % len(deals)], 100_000 + i
            emu.call("crm.deal.update", {"id": deal, "fields": {"OPPORTUNITY": amount}})
            poller.expect(("deal", i), time.time(),
                          f"select 1 from marts.fct_deals where deal_id = {deal} "
                          f"and amount = {amount}")
        time.sleep(interval)


def _split(log: str) -> dict[str, list[float]]:
    parts: dict[str, list[float]] = {p: [] for p in PARTS}
    for line in log.splitlines():
        m = CYCLE.search(line)
        if not m or m.group(1) != "event":
            continue
        steps = dict(re.findall(r"(\w+) ([\d.]+) s", m.group(3)))
        for part in PARTS:
            parts[part].append(float(steps.get(part, 0.0)))
    return parts


def measure(scale: float, changes: int, interval: float, smoke: bool) -> list[str]:
    emu = start_emulator("--dataset", "demo", "--scale", str(scale), "--no-operating-limit",
                         "--no-rate-limit")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**pipeline_env(emu, tmp), "BI_PATH": f"{tmp}/bi.duckdb"}
            first = subprocess.run(
                [str(BIN / "bitrix-warehouse"), "sync"], cwd=ROOT, capture_output=True, text=True,
                env={**env, "SOURCES__BITRIX24__RATE_PER_SECOND": "0"},
            )
            if first.returncode != 0:
                raise RuntimeError(f"the first load failed: {first.stderr[-2000:]}")
            if not smoke:
                emu.configure(rate_limit={"enabled": True, "rate": 2, "burst": 50})
            port = free_port()
            token = emu.bind_events(f"http://127.0.0.1:{port}{events.PATH}")
            worker_env = {**env, "SOURCES__BITRIX24__APPLICATION_TOKEN": token}
            if smoke:
                worker_env["SOURCES__BITRIX24__RATE_PER_SECOND"] = "0"
            log_path = Path(tmp) / "worker.log"
            with open(log_path, "w") as log:
                worker = subprocess.Popen(
                    [str(BIN / "bitrix-warehouse"), "worker", "--port", str(port),
                     "--test-every", "3600"],
                    cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT,
                )
            poller = Poller(Path(env["BI_PATH"]))
            poller.start()
            try:
                deadline = time.time() + 600  # its catch-up pass, and dbt parsed once
                while "published" not in log_path.read_text():
                    if time.time() > deadline or worker.poll() is not None:
                        raise RuntimeError(f"the worker did not start: {log_path.read_text()}")
                    time.sleep(0.5)
                _changes(emu, poller, changes, interval)
                deadline = time.time() + 300
                while poller.pending and time.time() < deadline:
                    time.sleep(0.5)
            finally:
                poller.stopped.set()
                worker.send_signal(signal.SIGTERM)
                worker.wait(120)
            parts = _split(log_path.read_text())
            delivered = emu.control("GET", "events")
    finally:
        emu.stop()
    lags = list(poller.seen.values())
    if not lags:
        raise RuntimeError("no change became visible")
    return [
        f"| {scale:g} | {len(lags)} | {len(poller.pending)} | {statistics.median(lags):.1f} | "
        f"{percentile(lags, 0.95):.1f} | {max(lags):.1f} | {len(poller.errors)} | "
        f"{delivered['delivered']} | {len(parts['pass'])} |",
        parts,
    ]


def run(scales: tuple[float, ...], changes: int, interval: float, smoke: bool) -> list[str]:
    rows, splits = [], {}
    for scale in scales:
        row, parts = measure(scale, changes, interval, smoke)
        rows.append(row)
        splits[scale] = parts
    lines = [
        "## Change → visible in BI_PATH with the event worker",
        "",
        ("Smoke: no rate limit." if smoke else
         f"The portal's real rate limit (2 req/s, burst 50) and the client's; `bitrix-warehouse "
         f"worker` woken by the portal's events; {changes} changes through the REST API "
         f"{interval:g} s apart (a new lead, then a deal's amount, in turn); BI_PATH polled "
         "read-only every 0.5 s."),
        "",
        "| scale | changes seen | missed | p50, s | p95, s | max, s | reader errors | "
        "events delivered | cycles |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]
    for scale, parts in splits.items():
        count = len(parts["pass"])
        lines += [
            "",
            f"Scale {scale:g}: one event cycle, seconds (over {count} cycles that published):",
            "",
            "| part | median | max |",
            "|---|---|---|",
            *(
                f"| {part} | {statistics.median(v):.1f} | {max(v):.1f} |"
                for part, v in parts.items()
                if v
            ),
        ]
    return lines
