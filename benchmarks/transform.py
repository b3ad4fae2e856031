"""dbt benchmark: the production build (`orchestration.pipeline.transform.build`, dbt's programmatic
runner in the syncing process) on a fresh warehouse (full) and then after 1, 100 and 10,000
changes, each synced on its own (incremental models take only what changed; tables and views
rebuild), at demo scale 1 and 10, on each
engine (DuckDB; PostgreSQL, a server of Debian's binaries on the same machine). Each build is
timed cold (a new process, as `bitrix-warehouse sync` runs it: imports, parse, build) and warm (a
second build in the same process, as a long-lived worker would run it)."""

import json
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.source import _change, pipeline_env, sync_process, warehouse_on
from emulator.testing import start_emulator

ROOT = Path(__file__).resolve().parents[1]
BUILD = """
import json, sys, time
from orchestration.pipeline import raw_changes, settings, transform
config = settings.load()
seconds = []
for again in (False, True):
    if again and sys.argv[1] == "rows":  # as the load before it left the warehouse
        with config.warehouse.connect() as con:
            raw_changes.open_mark(con, "main")
            raw_changes.close_marks(con, "main")
    started = time.perf_counter()
    transform.build(config)  # the production build: models and data tests
    seconds.append(time.perf_counter() - started)
published = config.warehouse.publish()  # what BI tools read: the marts the builds replaced
print(json.dumps([*seconds, published.seconds, published.tables]))
"""


def _build(env: dict, rows: bool = True) -> tuple[float, float, float, int]:
    """(cold, warm) seconds of the production `dbt build`, process start-up included in cold,
    then the publish after them (seconds, tables copied); `rows`: the sync before it loaded
    rows, so the warm build builds what the cold one did (else both have nothing new to build:
    `orchestration/pipeline/raw_changes.py`)."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", BUILD, "rows" if rows else "none"], cwd=ROOT, env=env,
        capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    cold, warm, publish, tables = json.loads(out.stdout.strip().splitlines()[-1])
    startup = time.perf_counter() - started - cold - warm - publish
    return cold + startup, warm, publish, tables


def run(scales: tuple[float, ...], changes: tuple[int, ...],
        engines: tuple[str, ...] = ("duckdb", "postgres")) -> list[str]:
    lines = [
        "## Transform (dbt build on DuckDB or PostgreSQL)",
        "",
        f"`dbt build` (models and data tests; unit tests run in CI) as every sync runs it "
        f"(`orchestration.pipeline.transform.build`), on a fresh warehouse, then after "
        f"{', '.join(f'{n:,}' for n in changes)} changes (lead moves and reassignments), each "
        f"synced on its own (0: a pass that loaded nothing, after which a build builds only "
        f"the freshness mart). Cold: a new process (imports, the parsed project read back, "
        f"build), as `bitrix-warehouse sync` pays it; warm: the same build again in that "
        f"process, as a long-lived worker pays it. Publish: the publish after them, and the "
        f"tables it copied (the marts the builds replaced, and the run log on DuckDB).",
        "",
        "| engine | scale | build | cold, s | warm, s | publish, s | tables copied |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, scale in ((n, s) for s in scales for n in engines):
        emu = start_emulator(
            "--dataset", "demo", "--scale", str(scale), "--no-rate-limit", "--no-operating-limit"
        )
        try:
            with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
                env = pipeline_env(emu, tmp)
                warehouse_on(stack, name, tmp, env)
                sync_process(env, rate_per_second=0)  # dbt is measured here, not the API
                lines.append(_row(name, scale, "full", _build(env)))
                for count in changes:
                    if count:
                        _change(emu, count)
                    sync_process(env, rate_per_second=0)
                    build = (f"after {count:,} change{'s' * (count > 1)}" if count else
                             "after a pass that loaded nothing")
                    lines.append(_row(name, scale, build, _build(env, rows=count > 0)))
        finally:
            emu.stop()
    return lines


def _row(engine: str, scale: float, build: str, measured: tuple[float, float, float, int]) -> str:
    cold, warm, publish, tables = measured
    return (f"| {engine} | {scale:g} | {build} | {cold:.1f} | {warm:.1f} | {publish:.2f} "
            f"| {tables} |")
