"""First-load benchmark: a whole demo portal loaded as `bitrix-warehouse sync` loads it the first
time — in windows, the portal read ahead while each window is written — through the portal's
real rate limit, into each engine (DuckDB; PostgreSQL, a server of Debian's binaries with its
default durability, on the same machine); its peak memory, and its wall time against the rate
floor.

The rate floor is the time the portal's bucket (2 req/s after a burst of 50) needs for the
physical minimum of requests: ceil(rows of every list / 2,500). The sync runs in a process of its
own, which reports its own peak resident set (`VmHWM`)."""

import tempfile
from contextlib import ExitStack

import requests

from benchmarks.source import pipeline_env, rate_floor, sync_process, warehouse_on
from emulator.testing import start_emulator
from sources.bitrix24 import settings


def run(scales: tuple[float, ...], engines: tuple[str, ...] = ("duckdb", "postgres")) -> list[str]:
    lines = [
        "## First load (dlt → DuckDB or PostgreSQL, in windows)",
        "",
        f"The whole demo portal, every table (leads, deals, their versions and stage history, "
        f"contacts, activities, product rows, dictionaries), through the portal's real limit "
        f"(2 req/s, burst 50); windows of {settings.WINDOW_ROWS:,} records, read ahead by at "
        f"most {settings.READ_AHEAD_ROWS:,} rows; DuckDB capped at its default 1 GB. The floor: "
        "(minimum requests − 50) / 2 s. Steps are dlt's, summed over the windows; reading "
        "overlaps them. Peak RSS is the sync process's (on Postgres the server's own memory, "
        "shared_buffers 256 MB, is apart).",
        "",
        "| engine | scale | records loaded | windows | HTTP requests | minimum | floor, s "
        "| wall, s | × floor | extract / normalize / load, s | peak RSS, MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, scale in ((n, s) for s in scales for n in engines):
        emu = start_emulator("--dataset", "demo", "--scale", str(scale), "--no-operating-limit")
        try:
            counts = emu.control("GET", "health")["counts"]
            minimum, floor = rate_floor(counts)
            with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
                env = pipeline_env(emu, tmp)
                warehouse = warehouse_on(stack, name, tmp, env)
                emu.configure(rate_limit={"enabled": True, "rate": 2, "burst": 50})
                requests.delete(f"{emu.base}/_emulator/stats", timeout=10)
                result = sync_process(env)
                stats = emu.stats()
                with warehouse.warehouse.connect(read_only=True) as con:
                    windows = con.value("select count(*) from bitrix_raw._dlt_loads")
            assert stats["errors"] == {}, stats["errors"]
        finally:
            emu.stop()
        records = sum(n for t, n in result["rows"].items() if not t.endswith("_versions"))
        steps = " / ".join(f"{result['steps'].get(s, 0):.0f}" for s in ("extract", "normalize",
                                                                         "load"))
        wall = result["seconds"]
        ratio = f"{wall / floor:.2f}" if floor else "—"  # a portal read within the burst
        lines.append(
            f"| {name} | {scale:g} | {records:,} | {windows} | {stats['http_requests']:,} "
            f"| {minimum:,} | {floor:.0f} | {wall:.1f} | {ratio} | {steps} "
            f"| {result['peak_rss_mb']:.0f} |"
        )
    return lines
