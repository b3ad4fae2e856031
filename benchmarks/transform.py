"""dbt benchmark: `dbt build` on a fresh warehouse (full) and after 1,000 changes (incremental
models take only what changed; tables and views rebuild), at demo scale 1 and 10."""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.source import _change, _sync, pipeline_env
from tests.support import start_emulator

ROOT = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).with_name("dbt")


def _build(env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(
        [
            str(DBT),
            "build",
            "--project-dir",
            "dbt_project",
            "--profiles-dir",
            "dbt_project",
            "--target-path",
            str(Path(env["WAREHOUSE_PATH"]).parent / "dbt_target"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(out.stdout[-3000:])
    summary = next(line for line in out.stdout.splitlines() if "Done. PASS=" in line)
    return seconds, summary.split("Done. ", 1)[1]


def run(scales: tuple[float, ...], changes: int) -> list[str]:
    lines = [
        "## Transform (dbt build on DuckDB)",
        "",
        f"`dbt build` (models, data tests, unit tests) on a fresh warehouse, then after "
        f"{changes:,} changes were synced. Wall time includes dbt's start-up (~4 s here).",
        "",
        "| scale | build | wall, s | dbt summary |",
        "|---|---|---|---|",
    ]
    for scale in scales:
        emu = start_emulator(
            "--dataset", "demo", "--scale", str(scale), "--no-rate-limit", "--no-operating-limit"
        )
        try:
            with tempfile.TemporaryDirectory() as tmp:
                env = pipeline_env(emu, tmp)
                _sync(env, rate_per_second=0)  # dbt is measured here, not the API
                seconds, summary = _build(env)
                lines.append(f"| {scale:g} | full | {seconds:.1f} | {summary} |")
                _change(emu, changes)
                _sync(env, rate_per_second=0)  # dbt is measured here, not the API
                seconds, summary = _build(env)
                lines.append(
                    f"| {scale:g} | after {changes:,} changes | {seconds:.1f} | {summary} |"
                )
        finally:
            emu.stop()
    return lines
