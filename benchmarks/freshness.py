"""End-to-end freshness under the real 1-minute schedule, and where a sync cycle's time goes.

`dagster-daemon` runs the code location as in production: the schedule ticks every minute and
launches the portal's `sync_minutely_job` in its own process (in-process executor), skipping a
tick while its run is still going; the sensor `marts_after_loads` then launches `marts_job`.
The emulator serves the demo company with the portal's real rate limit. A writer adds a lead
through the REST API every `interval` seconds (not a multiple of 60, so the writes fall at every
phase of the minute); a poller opens `BI_PATH` read-only twice a second, as a BI tool would,
and notes when each lead appears in `marts.fct_leads`.

The cycle split comes from the Dagster instance afterwards: per cycle (a load run and the marts
run after it), the ingest step's extract / normalize / load (dlt's own timings), the dbt step,
the BI copy step, and the rest of the time from the schedule tick to the marts run's end
(launches, code loading, the sensor's wait, events: the Dagster overhead). Smoke mode runs the
two jobs in-process twice instead of under the daemon.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb

from benchmarks.run import percentile
from benchmarks.source import pipeline_env
from emulator.testing import start_emulator
from orchestration.dagster import DAGSTER_YAML

ROOT = Path(__file__).resolve().parents[1]


class Poller(threading.Thread):
    """Watches BI_PATH as a BI tool would: a new read-only connection each time, and for each
    expected change a query that returns a row once the change is visible."""

    def __init__(self, bi_path: Path) -> None:
        super().__init__(daemon=True)
        self.bi_path, self.pending, self.seen = bi_path, {}, {}
        self.lock, self.stopped, self.errors = threading.Lock(), threading.Event(), []

    def expect(self, key, written_at: float, probe: str) -> None:
        with self.lock:
            self.pending[key] = (written_at, probe)

    def expect_lead(self, lead_id: int, written_at: float) -> None:
        self.expect(lead_id, written_at,
                    f"select 1 from marts.fct_leads where lead_id = {int(lead_id)}")

    def run(self) -> None:
        while not self.stopped.is_set():
            with self.lock:
                wanted = dict(self.pending)
            if wanted and self.bi_path.exists():
                try:
                    with duckdb.connect(str(self.bi_path), read_only=True) as con:
                        found = [k for k, (_, probe) in wanted.items()
                                 if con.execute(probe).fetchone()]
                    now = time.time()
                    with self.lock:
                        for key in found:
                            self.seen[key] = now - self.pending.pop(key)[0]
                except duckdb.Error as exc:  # a BI reader must never see one
                    self.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.5)


def _add_lead(emu, i: int) -> int:
    body = emu.call("crm.lead.add", {"fields": {"TITLE": f"freshness probe {i}",
                                                "SOURCE_ID": "WEB"}})
    return int(body["result"])


def _step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    return {s.step_key: s.end_time - s.start_time for s in instance.get_run_step_stats(run_id)}


def _split(instance: dg.DagsterInstance, cycles: list[tuple[str, str]]) -> dict[str, list[float]]:
    """Seconds per part of each cycle (a load run and the marts run that published it); the
    Dagster overhead is what the steps do not explain, from the schedule tick (or the load
    run's creation, off-schedule) to the marts run's end."""
    parts: dict[str, list[float]] = {
        k: [] for k in ("extract", "normalize", "load", "ingest, other", "transform (dbt)",
                        "publish (BI copy)", "Dagster overhead", "tick → run end")
    }
    for load_id, marts_id in cycles:
        record = instance.get_run_record_by_id(load_id)
        tick = record.dagster_run.tags.get("dagster/scheduled_execution_time")
        origin = datetime.fromisoformat(tick).timestamp() if tick else \
            record.create_timestamp.timestamp()
        steps = {**_step_seconds(instance, load_id), **_step_seconds(instance, marts_id)}
        dlt_seconds = dict.fromkeys(("extract", "normalize", "load"), 0.0)
        for entry in instance.all_logs(load_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
            mat = entry.asset_materialization
            if mat and mat.asset_key == dg.AssetKey(["bitrix", "leads"]):
                for step in dlt_seconds:
                    dlt_seconds[step] = float(mat.metadata[f"{step}_seconds"].value)
        for step, seconds in dlt_seconds.items():
            parts[step].append(seconds)
        parts["ingest, other"].append(steps["bitrix24_raw"] - sum(dlt_seconds.values()))
        parts["transform (dbt)"].append(steps["bitrix_dbt"])
        parts["publish (BI copy)"].append(steps["bi__bi_copy"])
        total = instance.get_run_stats(marts_id).end_time - origin
        parts["tick → run end"].append(total)
        parts["Dagster overhead"].append(total - sum(steps.values()))
    return parts


def _successful(instance: dg.DagsterInstance, job: str) -> list[tuple[str, float, float]]:
    """(run ID, start, end) of the job's successful runs, oldest first."""
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job,
                                                   statuses=[dg.DagsterRunStatus.SUCCESS]))
    stats = [(r.run_id, instance.get_run_stats(r.run_id)) for r in runs]
    return sorted(((run_id, s.start_time, s.end_time) for run_id, s in stats),
                  key=lambda run: run[1])


def _sync_cycles(instance: dg.DagsterInstance) -> list[tuple[str, str]]:
    """Each successful minute load after the full one, with the first marts run that started
    after it ended (the one that published it)."""
    marts = _successful(instance, "marts_job")
    cycles = []
    for load_id, _, ended in _successful(instance, "sync_minutely_job")[1:]:
        follow = next((run_id for run_id, started, _ in marts if started >= ended), None)
        if follow is not None:
            cycles.append((load_id, follow))
    return cycles


def _under_the_schedule(env: dict, emu, poller: Poller, changes: int, interval: float,
                        home: Path) -> list[str]:
    daemon = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-m",
         "orchestration.dagster.definitions"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 900
        while not Path(env["BI_PATH"]).exists():  # the first run: the full load
            if time.time() > deadline or daemon.poll() is not None:
                raise RuntimeError("the scheduled full load did not publish BI_PATH")
            time.sleep(2)
        for i in range(changes):
            poller.expect_lead(_add_lead(emu, i), time.time())
            time.sleep(interval)
        deadline = time.time() + 600
        while poller.pending and time.time() < deadline:
            time.sleep(1)
    finally:
        daemon.terminate()
        daemon.wait(60)
    os.environ["DAGSTER_HOME"] = str(home)
    with dg.DagsterInstance.get() as instance:
        return _split(instance, _sync_cycles(instance))


def _in_process(env: dict, emu, poller: Poller) -> dict[str, list[float]]:
    from orchestration.dagster.definitions import build_definitions
    from orchestration.pipeline import settings

    os.environ.update(env)
    defs = build_definitions(settings.load())
    load, marts = (defs.resolve_job_def(name) for name in ("sync_minutely_job", "marts_job"))
    # in memory: the smoke checks the section runs, and a file-backed test instance spends
    # ~7 s of each marts run opening a connection per event
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("portals", ["main"])
        for change in (False, True):
            if change:
                poller.expect_lead(_add_lead(emu, 0), time.time())
            assert load.execute_in_process(instance=instance, partition_key="main").success
            assert marts.execute_in_process(instance=instance).success
        deadline = time.time() + 30
        while poller.pending and time.time() < deadline:
            time.sleep(0.2)
        return _split(instance, _sync_cycles(instance))


def run(scale: float, changes: int, interval: float, smoke: bool) -> list[str]:
    emu = start_emulator("--dataset", "demo", "--scale", str(scale), "--no-operating-limit",
                         *(["--no-rate-limit"] if smoke else []))
    saved = dict(os.environ)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "dagster"
            home.mkdir()
            shutil.copy(DAGSTER_YAML, home / "dagster.yaml")
            env = {**pipeline_env(emu, tmp), "BI_PATH": f"{tmp}/bi.duckdb",
                   "DAGSTER_HOME": str(home)}
            if smoke:
                env["SOURCES__BITRIX24__RATE_PER_SECOND"] = "0"
            poller = Poller(Path(env["BI_PATH"]))
            poller.start()
            if smoke:
                parts = _in_process(env, emu, poller)
            else:
                parts = _under_the_schedule(env, emu, poller, changes, interval, home)
            poller.stopped.set()
    finally:
        emu.stop()
        os.environ.clear()
        os.environ.update(saved)
    lags = list(poller.seen.values())
    lines = [
        "## End-to-end freshness (change on the portal → visible in BI_PATH)",
        "",
        f"Demo scale {scale:g}, "
        + ("no rate limit, the job run in-process twice (smoke)." if smoke else
           f"the portal's real rate limit, `dagster-daemon` with the 1-minute schedule; "
           f"{changes} leads added through the API every {interval:g} s, BI_PATH polled "
           "read-only every 0.5 s."),
        "",
        "| changes seen | missed | p50, s | p95, s | max, s | reader errors |",
        "|---|---|---|---|---|---|",
        f"| {len(lags)} | {len(poller.pending)} | {statistics.median(lags):.1f} | "
        f"{percentile(lags, 0.95):.1f} | {max(lags):.1f} | {len(poller.errors)} |",
        "",
        f"One sync cycle, seconds (median over {len(parts['tick → run end'])} incremental runs):",
        "",
        "| part | median | max |",
        "|---|---|---|",
    ]
    for part, values in parts.items():
        lines.append(f"| {part} | {statistics.median(values):.1f} | {max(values):.1f} |")
    return lines
