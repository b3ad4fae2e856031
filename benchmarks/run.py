"""Benchmarks, one command: `make bench` (full) or `make bench-smoke` (tiny, runs in the tests).

Sections: `emulator` (below), `source` (benchmarks/source.py: full and incremental loads),
`transform` (benchmarks/transform.py: dbt build, full and after changes), `freshness`
(benchmarks/freshness.py: change → BI_PATH under the 1-minute schedule, and the cycle's split),
`events` (benchmarks/events.py: change → BI_PATH with the event worker, and its cycle split),
`peers` (benchmarks/peers.py), `portals` (benchmarks/portals.py: 1, 10 and 50 portals in one
deployment) and `dashboards` (benchmarks/dashboards.py: the Superset
dashboards in headless Chromium).

Emulator benchmarks (issue: the emulator must never be what limits a 2 req/s client):
1. time and peak memory to generate the demo portal at scale 1 and 10, each in a fresh process;
2. at scale 10, the answer time of `start=-1` keyset list calls: one 50-row page, and a 50-command
   `batch` of list calls (2,500 rows; target under 250 ms), measured over HTTP against the running
   emulator, p50 and p95.

Results are printed as Markdown and written to `benchmarks/results/<section>.md` with the
command, date and machine.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.testing import start_emulator  # noqa: E402

GENERATE = """
import json, sys, time
from benchmarks.memory import peak_rss_mb
from emulator.data.datasets import load_dataset
from emulator.portal.portal import Portal
portal = Portal("bench")
started = time.perf_counter()
counts = load_dataset(portal, "demo", scale=float(sys.argv[1]))
seconds = time.perf_counter() - started
rss = peak_rss_mb()
print(json.dumps({"seconds": seconds, "peak_rss_mb": rss, **counts}))
"""


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"{mem:.0f} GiB, Python {platform.python_version()}"
    )


def generate(scale: float) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", GENERATE, str(scale)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def throughput(scale: float, rounds: int) -> dict:
    emu = start_emulator(
        "--dataset", "demo", "--scale", str(scale), "--no-rate-limit", "--no-operating-limit"
    )
    try:
        session = requests.Session()
        url = emu.webhook
        max_id = session.post(
            url + "crm.lead.list", json={"order": {"ID": "DESC"}, "select": ["ID"], "start": -1}
        ).json()["result"][0]["ID"]
        max_id = int(max_id)
        page_ms, batch_ms, rows = [], [], 0
        for i in range(rounds):
            start_id = (i * 7_919) % max(1, max_id - 2_600)
            t = time.perf_counter()
            r = session.post(
                url + "crm.lead.list",
                json={"order": {"ID": "ASC"}, "filter": {">ID": start_id}, "start": -1},
            )
            page_ms.append((time.perf_counter() - t) * 1000)
            assert len(r.json()["result"]) == 50
            cmd = {"p0": f"crm.lead.list?order[ID]=ASC&start=-1&filter[>ID]={start_id}"}
            for k in range(1, 50):
                cmd[f"p{k}"] = (
                    f"crm.lead.list?order[ID]=ASC&start=-1&filter[>ID]=$result[p{k - 1}][49][ID]"
                )
            t = time.perf_counter()
            body = session.post(url + "batch", json={"halt": 0, "cmd": cmd}).json()
            batch_ms.append((time.perf_counter() - t) * 1000)
            got = sum(len(v) for v in body["result"]["result"].values())
            assert got == 2_500, got
            rows += got
        return {
            "scale": scale,
            "rounds": rounds,
            "page_p50_ms": statistics.median(page_ms),
            "page_p95_ms": percentile(page_ms, 0.95),
            "batch_p50_ms": statistics.median(batch_ms),
            "batch_p95_ms": percentile(batch_ms, 0.95),
            "rows_per_second_in_batches": rows / (sum(batch_ms) / 1000),
        }
    finally:
        emu.stop()


def emulator_section(smoke: bool) -> list[str]:
    scales = (0.05,) if smoke else (1.0, 10.0)
    tp_scale, rounds = (0.05, 3) if smoke else (10.0, 20)
    lines = [
        "## Emulator",
        "",
        "Demo portal generation (fresh process each):",
        "",
        "| scale | leads | deals | stage-history rows | seconds | peak RSS, MB |",
        "|---|---|---|---|---|---|",
    ]
    for scale in scales:
        g = generate(scale)
        lines.append(
            f"| {scale:g} | {g['leads']:,} | {g['deals']:,} | "
            f"{g['lead_history'] + g['deal_history']:,} | {g['seconds']:.1f} | "
            f"{g['peak_rss_mb']:.0f} |"
        )
    t = throughput(tp_scale, rounds)
    lines += [
        "",
        f"Keyset list calls (`start=-1`, full lead rows) at scale {t['scale']:g}, "
        f"over HTTP, {t['rounds']} rounds:",
        "",
        "| request | p50, ms | p95, ms |",
        "|---|---|---|",
        f"| one 50-row page | {t['page_p50_ms']:.1f} | {t['page_p95_ms']:.1f} |",
        f"| batch of 50 chained pages (2,500 rows) | {t['batch_p50_ms']:.1f} | "
        f"{t['batch_p95_ms']:.1f} |",
        "",
        f"Rows served inside batches: {t['rows_per_second_in_batches']:,.0f}/s. "
        "A client at the portal's 2 req/s reads at most 5,000 rows/s.",
    ]
    return lines


SOURCE_SCALES = [1.0, 10.0]


def source_section(smoke: bool) -> list[str]:
    from benchmarks.source import run

    return run((0.02,) if smoke else tuple(SOURCE_SCALES), 50 if smoke else 1_000)


TRANSFORM_SCALES = [1.0, 10.0]
ENGINES = ["duckdb", "postgres"]  # of the first_load and transform sections


def transform_section(smoke: bool) -> list[str]:
    from benchmarks.transform import run

    # the smoke run takes one engine: the first_load section's smoke already opens both, and the
    # build is the same function on either (35 s of the suite saved)
    return run((0.02,) if smoke else tuple(TRANSFORM_SCALES),
               (50,) if smoke else (0, 1, 100, 10_000),
               ("duckdb",) if smoke else tuple(ENGINES))


def freshness_section(smoke: bool) -> list[str]:
    from benchmarks.freshness import run

    return run(0.02 if smoke else 1.0, 1 if smoke else 20, 31.0, smoke)


EVENT_SCALES = [1.0, 10.0]
# seconds between a smoke run's changes: it checks that they are seen, not how soon
SMOKE_INTERVAL = 1.0


def events_section(smoke: bool) -> list[str]:
    from benchmarks.events import run

    return run((0.02,) if smoke else tuple(EVENT_SCALES), 2 if smoke else 30, SMOKE_INTERVAL
               if smoke else 4.3, smoke)


PEER_SCALES = [1.0, 10.0]
PEER_DEADLINE_MINUTES = 25  # a peer's export at the larger scales (b24pysdk needs ~21 at 10)


def peers_section(smoke: bool) -> list[str]:
    from benchmarks.peers import run

    return run((0.02,) if smoke else PEER_SCALES, (0, 10) if smoke else (0, 100, 10_000),
               deadline=PEER_DEADLINE_MINUTES * 60)


FIRST_LOAD_SCALES = [1.0, 10.0]


def first_load_section(smoke: bool) -> list[str]:
    from benchmarks.first_load import run

    return run((0.02,) if smoke else tuple(FIRST_LOAD_SCALES), tuple(ENGINES))


DASHBOARD_SCALES = [1.0, 10.0]


def dashboards_section(smoke: bool) -> list[str]:
    from benchmarks.dashboards import run

    return run((0.02,) if smoke else tuple(DASHBOARD_SCALES), 1 if smoke else 5)


PORTAL_COUNTS = [1, 10, 50]


def portals_section(smoke: bool) -> list[str]:
    from benchmarks.portals import run

    return run((2,) if smoke else tuple(PORTAL_COUNTS), 0.005 if smoke else 0.02,
               2 if smoke else 20, SMOKE_INTERVAL if smoke else 4.3, smoke,
               first_loads=None if smoke else (10, 0.25))


SECTIONS = {
    "emulator": emulator_section,
    "source": source_section,
    "first_load": first_load_section,
    "transform": transform_section,
    "freshness": freshness_section,
    "events": events_section,
    "peers": peers_section,
    "portals": portals_section,
    "dashboards": dashboards_section,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny scale; results not written")
    parser.add_argument(
        "--only",
        choices=sorted(SECTIONS),
        action="append",
        help="run only these sections (default: all)",
    )
    parser.add_argument(
        "--peer-scales",
        default=",".join(f"{s:g}" for s in PEER_SCALES),
        help="demo scales of the peers' full exports (the first gets every part)",
    )
    parser.add_argument(
        "--source-scales",
        default=",".join(f"{s:g}" for s in SOURCE_SCALES),
        help="demo scales of the source section",
    )
    parser.add_argument(
        "--transform-scales",
        default=",".join(f"{s:g}" for s in TRANSFORM_SCALES),
        help="demo scales of the transform section",
    )
    parser.add_argument(
        "--event-scales",
        default=",".join(f"{s:g}" for s in EVENT_SCALES),
        help="demo scales of the events section",
    )
    parser.add_argument(
        "--first-load-scales",
        default=",".join(f"{s:g}" for s in FIRST_LOAD_SCALES),
        help="demo scales of the first_load section",
    )
    parser.add_argument(
        "--portal-counts",
        default=",".join(str(n) for n in PORTAL_COUNTS),
        help="numbers of portals of the portals section",
    )
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="warehouse engines of the first_load and transform sections",
    )
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else list(argv)
    command = (
        f"make {'bench-smoke' if args.smoke else 'bench'}"
        if given in ([], ["--smoke"])
        else " ".join([".venv/bin/python -m benchmarks.run", *given])
    )
    PEER_SCALES[:] = [float(s) for s in args.peer_scales.split(",")]
    TRANSFORM_SCALES[:] = [float(s) for s in args.transform_scales.split(",")]
    SOURCE_SCALES[:] = [float(s) for s in args.source_scales.split(",")]
    EVENT_SCALES[:] = [float(s) for s in args.event_scales.split(",")]
    FIRST_LOAD_SCALES[:] = [float(s) for s in args.first_load_scales.split(",")]
    ENGINES[:] = args.engines.split(",")
    PORTAL_COUNTS[:] = [int(n) for n in args.portal_counts.split(",")]
    for name in args.only or list(SECTIONS):
        header = [
            f"Command: `{command}` (section `{name}`)",
            f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"Machine: {machine()}",
            "",
        ]
        report = "\n".join(header + SECTIONS[name](args.smoke)) + "\n"
        print(report, flush=True)
        if not args.smoke:
            out = ROOT / "benchmarks" / "results" / f"{name}.md"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(f"# Benchmark results: {name}\n\n" + report)
    if not args.smoke:
        collect_results()
    return 0


def collect_results() -> None:
    """`benchmarks/RESULTS.md`: every section's latest results, each with its command, date
    and machine."""
    parts = ["# Benchmark results", "", "Latest run of each section of `make bench`.", ""]
    for name in SECTIONS:
        path = ROOT / "benchmarks" / "results" / f"{name}.md"
        if path.exists():
            parts.append(path.read_text().replace("# Benchmark results: ", "# Section: ", 1))
    (ROOT / "benchmarks" / "RESULTS.md").write_text("\n".join(parts))


if __name__ == "__main__":
    sys.exit(main())
