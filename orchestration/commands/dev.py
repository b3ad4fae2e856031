"""`bitrix-warehouse dev` (`make dev`): the Dagster UI with the schedule and sensors on.

By default it starts the emulator with a small demo company in live mode (new leads, stage moves,
edits every few seconds) and points the pipeline at it, with a warehouse of its own in
`data/dev/`, so a newcomer watches data arrive. `--webhook-from-env` uses the portal in
SOURCES__BITRIX24__WEBHOOK_URL and the configured warehouse instead.

The event worker runs beside Dagster (bound to the emulator's events; on a real portal it polls,
or takes its events when SOURCES__BITRIX24__APPLICATION_TOKEN is set) and reports its cycles to
the same instance, so the assets update within seconds and the schedules stand aside;
`--no-worker` leaves the minute schedule to do the work.
"""

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from emulator.http import launcher
from orchestration.dagster import DAGSTER_YAML
from orchestration.pipeline.settings import Settings
from orchestration.worker import events

ROOT = Path(__file__).resolve().parents[2]


def _start_worker(env: dict, emulator) -> subprocess.Popen:
    port = launcher.free_port()
    if emulator is not None:
        token = emulator.bind_events(f"http://127.0.0.1:{port}{events.PATH}")
        env = {**env, "SOURCES__BITRIX24__APPLICATION_TOKEN": token}
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("bitrix-warehouse")), "worker", "--port", str(port)],
        cwd=ROOT,
        env=env,
    )


def run(
    settings: Settings, *, port: int, scale: float, use_env: bool, worker: bool, echo
) -> None:
    env = dict(os.environ)
    emulator = None
    if not use_env:
        root = settings.warehouse_path.parent / "dev"
        settings = replace(
            settings,
            warehouse_path=root / "warehouse.duckdb",
            bi_path=root / "bi.duckdb",
            dlt_dir=root / "dlt",
        )
        shutil.rmtree(root, ignore_errors=True)  # a new emulator portal: start from scratch
        echo(f"Starting the emulator (demo company, scale {scale:g}, live mode)…")
        emulator = launcher.start("--dataset", "demo", "--scale", str(scale), "--live")
        env["SOURCES__BITRIX24__WEBHOOK_URL"] = emulator.webhook
    home = settings.warehouse_path.parent.resolve() / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(DAGSTER_YAML, home / "dagster.yaml")
    env.update(
        DAGSTER_HOME=str(home),
        WAREHOUSE_PATH=str(settings.warehouse_path.resolve()),
        BI_PATH=str(settings.bi_path.resolve()),
        DLT_PIPELINES_DIR=str(settings.dlt_dir.resolve()),
    )
    echo(f"Dagster UI: http://127.0.0.1:{port}  (Ctrl-C stops)")
    echo(f"BI tools read: {settings.bi_path.resolve()}")
    dagster = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster")), "dev",
         "-m", "orchestration.dagster.definitions", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
    )
    background = _start_worker(env, emulator) if worker else None
    echo("Event worker: on (syncs within seconds of a change)" if worker else
         "Event worker: off (the schedule syncs every minute)")
    # SIGTERM (a supervisor, `timeout`) cleans up as Ctrl-C does, instead of orphaning the UI,
    # its daemon and the emulator
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        dagster.wait()
    finally:
        if background is not None:
            background.terminate()
            try:
                background.wait(60)
            except subprocess.TimeoutExpired:
                background.kill()
        if dagster.poll() is None:
            dagster.send_signal(signal.SIGINT)  # `dagster dev` stops its children on SIGINT
            try:
                dagster.wait(60)
            except subprocess.TimeoutExpired:
                dagster.kill()
        if emulator is not None:
            emulator.stop()
