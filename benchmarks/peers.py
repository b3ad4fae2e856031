"""Our source against what users would otherwise run, on one emulator portal in one run.

Peers: a script around `fast_bitrix24` (`get_all`: a count, then `batch`es of 50 `start=offset`
list calls) and the official `b24pysdk` in its fastest list mode (`as_list_fast`: `batch`es of
chained ID-window pages, `start=-1`, as ours). Each client exports leads, deals and both stage
histories in its own process (peak memory is its own) from the same HTTPS emulator portal
(b24pysdk speaks only HTTPS). The peers keep the rows in memory; ours also normalizes and loads
them into DuckDB, and its process imports dlt (a few seconds at small scales). Ours reads the
same lists here (`related=False`: no contacts, activities or product rows).

1. Full export with the portal's real limit (2 req/s, burst 50): HTTP requests (the emulator's
   count), wall time, records/s, peak RSS, requests ÷ ceil(records / 2,500). fast_bitrix24 runs
   with its defaults (a pool of 50 = the portal's burst) and with a pool of 49: the portal counts
   a request when it arrives and a client when it leaves, so a bucket equal to the portal's
   overflows (ours keeps one request of headroom for this reason). At the larger scales a peer's
   export still running after a deadline is stopped and what it fetched is reported: offset
   paging makes the portal count the whole table and skip `start` rows on every page, so it
   slows as the portal grows (Bitrix24 documents `start=-1` for this reason).
2. Correctness under change: the same exports while a writer deletes random old leads and edits
   deals through the API (one `batch` every 2 s). Records missed (present before and after the
   export, absent from it) and duplicated (exported twice), per client.
3. Keeping up: one incremental pass of ours after K changes; a peer has no state, so the same
   freshness costs it a full re-read (row 1).
4. BI reads: each mart's typical dashboard query on BI_PATH, p50/p95 over 20 runs.
"""

import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

from benchmarks.source import _change, pipeline_env
from emulator.testing import make_tls, start_emulator

ROOT = Path(__file__).resolve().parents[1]
ENTITIES = ("lead", "deal", "lead_history", "deal_history")

EXPORT = """
import json, sys, time
from benchmarks.memory import peak_rss_mb
client, webhook, folder = sys.argv[1], sys.argv[2], sys.argv[3]
started, extract = time.perf_counter(), None
if client == "ours":
    import duckdb
    from orchestration.pipeline import operations, settings
    run = operations.load(settings.load(), operations.Sync(), webhook_url=webhook,
                          rate_per_second=float(sys.argv[4]), related=False)
    extract = run.seconds["extract"]
    with duckdb.connect(folder + "/warehouse.duckdb", read_only=True) as con:
        ids = {e: [r[0] for r in con.execute(f"select id from bitrix_raw.{t}").fetchall()]
               for e, t in (("lead", "leads"), ("deal", "deals"),
                            ("lead_history", "lead_stage_history"),
                            ("deal_history", "deal_stage_history"))}
elif client.startswith("fast_bitrix24"):
    from fast_bitrix24 import Bitrix
    pool = 49 if client.endswith("pool 49") else 50  # 50: its default, the portal's burst
    bx = Bitrix(webhook, ssl=False, verbose=False, request_pool_size=pool)
    full = {"select": ["*", "UF_*"]}
    data = {"lead": bx.get_all("crm.lead.list", full), "deal": bx.get_all("crm.deal.list", full),
            "lead_history": bx.get_all("crm.stagehistory.list", {"entityTypeId": 1}),
            "deal_history": bx.get_all("crm.stagehistory.list", {"entityTypeId": 2})}
    ids = {e: [int(r["ID"]) for r in rows] for e, rows in data.items()}
else:
    from b24pysdk import BitrixWebhook, Client
    domain, token = webhook.removeprefix("https://").split("/rest/")
    c = Client(BitrixWebhook(domain=domain, webhook_token=token.strip("/")))
    data = {"lead": c.crm.lead.list(select=["*", "UF_*"]).as_list_fast().result,
            "deal": c.crm.deal.list(select=["*", "UF_*"]).as_list_fast().result,
            "lead_history": c.crm.stagehistory.list(entity_type_id=1).as_list_fast().result,
            "deal_history": c.crm.stagehistory.list(entity_type_id=2).as_list_fast().result}
    ids = {e: [int(r["ID"]) for r in rows] for e, rows in data.items()}
print(json.dumps({"seconds": time.perf_counter() - started, "ids": ids,
                  "extract": extract,
                  "peak_rss_mb": peak_rss_mb()}))
"""

BI_QUERIES = {
    "mart_lead_sources_daily": "select lead_date, source_id, sum(leads_received), sum(revenue) "
    "from marts.mart_lead_sources_daily where lead_date >= current_date - 90 group by 1, 2",
    "mart_ad_performance": "select * from marts.mart_ad_performance order by revenue_rank "
    "limit 50",
    "mart_funnel_conversion": "select * from marts.mart_funnel_conversion where entity = 'deal' "
    "order by cohort_month desc, stage_position limit 200",
    "mart_manager_performance": "select month, manager_id, leads_taken, win_rate, revenue "
    "from marts.mart_manager_performance order by month desc limit 200",
    "mart_cross_sell": "select pipeline_id, sum(uplift), avg(has_uplift::int) "
    "from marts.mart_cross_sell group by 1",
    "mart_deal_losses": "select loss_month, lost_from_stage_name, sum(lost_deals), "
    "sum(lost_amount) from marts.mart_deal_losses group by 1, 2 order by 1 desc limit 100",
    "mart_attribution": "select model, utm_source, sum(credit * revenue) "
    "from marts.mart_attribution group by 1, 2 order by 3 desc limit 20",
    "fct_deals": "select pipeline_name, stage_name, count(*) from marts.fct_deals "
    "where outcome = 'open' group by 1, 2",
    "mart_data_quality": "select * from marts.mart_data_quality",
    "mart_pipeline_freshness": "select entity, data_as_of from marts.mart_pipeline_freshness",
}


class ExportFailed(Exception):
    def __init__(self, reason: str, requests_made: int, fetched: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.requests, self.fetched = reason, requests_made, fetched


def _export(emu, client: str, folder: str, limited: bool, deadline: float | None = None) -> dict:
    emu.configure(rate_limit={"enabled": limited, "rate": 2, "burst": 50})
    emu.control("DELETE", "stats")
    env = {**pipeline_env(emu, folder), "REQUESTS_CA_BUNDLE": str(emu.verify),
           "SSL_CERT_FILE": str(emu.verify)}
    try:
        out = subprocess.run(
            [sys.executable, "-c", EXPORT, client, emu.webhook, folder, "2" if limited else "0"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=deadline,
        )
    except subprocess.TimeoutExpired:
        # answered once the emulator has served what the killed client left in flight
        stats = emu.stats()
        raise ExportFailed(f"unfinished after {deadline / 60:g} min", stats["http_requests"],
                           stats["rows_returned_total"]) from None
    if out.returncode != 0:
        reason = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "no output"
        raise ExportFailed(f"failed: {reason[:120]}", emu.stats()["http_requests"])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["requests"] = emu.stats()["http_requests"]
    return result


class Writer(threading.Thread):
    """Deletes random old leads and edits random deals while an export pages."""

    def __init__(self, emu) -> None:
        super().__init__(daemon=True)
        self.emu, self.stop, self.deleted = emu, threading.Event(), 0
        self.rng = random.Random(7)

    def run(self) -> None:
        leads = [int(r["ID"]) for r in self.emu.records("lead")]
        deals = [int(r["ID"]) for r in self.emu.records("deal")]
        while not self.stop.wait(2.0):
            cmd = {f"d{i}": f"crm.lead.delete?id={leads.pop(self.rng.randrange(len(leads)))}"
                   for i in range(5)}
            cmd |= {f"u{i}": f"crm.deal.update?id={self.rng.choice(deals)}"
                    f"&fields[COMMENTS]=edited{i}" for i in range(5)}
            self.emu.post("batch", {"cmd": cmd, "halt": 0})
            self.deleted += 5


def _correctness(emu, client: str, folder: str) -> dict:
    before = {e: {int(r["ID"]) for r in emu.records(e)} for e in ENTITIES}
    writer = Writer(emu)
    writer.start()
    try:
        result = _export(emu, client, folder, limited=False)
    finally:
        writer.stop.set()
        writer.join()
    after = {e: {int(r["ID"]) for r in emu.records(e)} for e in ENTITIES}
    missed = sum(len((before[e] & after[e]) - set(result["ids"][e])) for e in ENTITIES)
    duplicated = sum(len(result["ids"][e]) - len(set(result["ids"][e])) for e in ENTITIES)
    return {"missed": missed, "duplicated": duplicated, "deleted": writer.deleted}


def _bi_reads(folder: str) -> list[str]:
    from dataclasses import replace

    from orchestration.pipeline import transform
    from orchestration.pipeline.settings import load

    settings = replace(load(), warehouse_path=Path(folder) / "warehouse.duckdb",
                       bi_path=Path(folder) / "bi.duckdb")
    transform.build(settings)
    settings.warehouse.publish()
    lines = ["| mart | p50, ms | p95, ms |", "|---|---|---|"]
    with duckdb.connect(str(settings.bi_path), read_only=True) as con:
        for mart, sql in BI_QUERIES.items():
            times = []
            for _ in range(20):
                started = time.perf_counter()
                con.execute(sql).fetchall()
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            lines.append(f"| {mart} | {statistics.median(times):.1f} | {times[18]:.1f} |")
    return lines


def run(scales: tuple[float, ...], changes: tuple[int, ...],
        deadline: float | None = None) -> list[str]:
    """Every part at the first scale; the full export alone at the others (hours otherwise),
    where a peer's export that has not finished after `deadline` seconds is stopped and what it
    fetched by then is reported."""
    lines = []
    for i, scale in enumerate(scales):
        with tempfile.TemporaryDirectory() as tmp:
            tls = make_tls(Path(tmp))
            emu = start_emulator("--dataset", "demo", "--scale", str(scale),
                                 "--no-operating-limit", tls=tls)
            try:
                full, part = _full_exports(emu, scale, tmp, None if i == 0 else deadline)
                lines += part
                if i == 0:
                    lines += _after_full(emu, changes, tmp, full)
            finally:
                emu.stop()
    return lines


def _full_exports(emu, scale: float, tmp: str, deadline: float | None) -> tuple[dict, list[str]]:
    records = sum(len(emu.records(e)) for e in ENTITIES)
    minimum = math.ceil(records / 2500)
    lines = [
        f"## Full export at demo scale {scale:g}: {records:,} records "
        f"(leads, deals, stage history); physical minimum {minimum} requests",
        "",
        "Wall time is the whole process: the peers hold the rows in memory; ours also "
        "normalizes and loads them into DuckDB (its extract time in brackets).",
        "",
        "| client | HTTP requests | × minimum | wall at 2 req/s, s | records/s | peak RSS, MB |",
        "|---|---|---|---|---|---|",
    ]
    if deadline:
        lines[-2:-2] = [
            f"A peer's export still running after {deadline / 60:g} min is stopped; fast_bitrix24 "
            "runs with a pool of 49 only (its default overflows the burst, see scale 1).", "",
        ]
    full = {}
    for client in ("ours", "fast_bitrix24", "fast_bitrix24, pool 49", "b24pysdk"):
        if deadline and client == "fast_bitrix24":
            continue
        folder = f"{tmp}/{client}"
        os.makedirs(folder)
        try:
            result = _export(emu, client, folder, limited=True,
                             deadline=None if client == "ours" else deadline)
        except ExportFailed as exc:
            fetched = ("" if exc.fetched is None
                       else f": {exc.fetched:,} of {records:,} records fetched")
            lines.append(f"| {client} | {exc.requests:,} | | {exc.reason}{fetched} | | |")
            continue
        seconds, got = result["seconds"], sum(len(v) for v in result["ids"].values())
        full[client] = f"{result['requests']:,} requests, {seconds:,.0f} s"
        extract = f" (extract {result['extract']:,.1f})" if result["extract"] else ""
        lines.append(f"| {client} | {result['requests']:,} | {result['requests'] / minimum:.2f} "
                     f"| {seconds:,.1f}{extract} | {got / seconds:,.0f} "
                     f"| {result['peak_rss_mb']:.0f} |")
    return full, [*lines, ""]


def _after_full(emu, changes: tuple[int, ...], tmp: str, full: dict) -> list[str]:
    lines = ["### Correctness while the portal changes", "",
              "A writer deletes 5 random old leads and edits 5 deals every 2 s during the export "
              "(limit off, so every client pages through the same churn).", "",
              "| client | leads deleted meanwhile | records missed | records duplicated |",
              "|---|---|---|---|"]
    for client in ("ours", "fast_bitrix24, pool 49", "b24pysdk"):
        folder = f"{tmp}/{client}-churn"
        os.makedirs(folder)
        try:
            c = _correctness(emu, client, folder)
        except ExportFailed as exc:
            lines.append(f"| {client} | | {exc.reason} | |")
            continue
        lines.append(f"| {client} | {c['deleted']} | {c['missed']} | {c['duplicated']} |")

    lines += ["", "### Keeping up: one incremental pass after K changes", "",
              "| K changes | ours: requests | ours: wall, s "
              "| fast_bitrix24 (pool 49): full re-read | b24pysdk: full re-read |",
              "|---|---|---|---|---|"]
    folder = f"{tmp}/ours"
    for k in changes:
        if k:
            _change(emu, k)
        result = _export(emu, "ours", folder, limited=True)
        lines.append(f"| {k:,} | {result['requests']} | {result['seconds']:.1f} "
                     f"| {full.get('fast_bitrix24, pool 49', 'failed above')} "
                     f"| {full.get('b24pysdk', 'failed above')} |")

    lines += ["", "### BI reads on BI_PATH (one open read-only connection)", ""]
    lines += _bi_reads(folder)
    return lines
