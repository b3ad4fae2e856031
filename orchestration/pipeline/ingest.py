"""Extract and load: the dlt pipeline that copies a portal into its raw dataset (`bitrix_raw` for
the portal `main`), each run recorded in `ops.sync_runs` with the portal's name.
`orchestration.pipeline.operations` says what a run loads.

`ops.sync_runs` is the run log that `mart_pipeline_freshness` and `bitrix-warehouse status` read:
one row per run, failed ones included, with the portal time the data is complete as of.
"""

import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dlt
from dlt.sources import DltSource

from orchestration.pipeline import raw_changes
from orchestration.pipeline.portals import Portal
from orchestration.pipeline.settings import Settings
from orchestration.pipeline.warehouse import Connection
from sources.bitrix24 import settings as source_settings
from sources.bitrix24 import state
from sources.bitrix24.errors import redact_webhooks

MAIN = Portal()
SYNC_RUNS_DDL = """
create schema if not exists ops;
create table if not exists ops.sync_runs (
    run_id varchar primary key,
    kind varchar not null,          -- sync | backfill | reconcile
    started_at timestamp not null,  -- UTC, local clock
    finished_at timestamp not null,
    status varchar not null,        -- success | failed
    data_as_of timestamp,           -- UTC, portal clock: the pass saw every change before it
    rows_loaded json,               -- {table: rows}
    error varchar                   -- first line, webhook secret redacted
);
-- the portal the run loaded (a run log from before the registry holds `main`'s runs)
alter table ops.sync_runs add column if not exists portal varchar default 'main';
create table if not exists ops.personal_data (erased_at timestamp)  -- UTC, see _personal_data"""


@dataclass
class RunResult:
    kind: str
    portal: str = MAIN.name
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    rows: dict[str, int] = field(default_factory=dict)
    data_as_of: datetime | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # extract, normalize, load


def make_pipeline(
    settings: Settings, progress: bool = False, portal: Portal = MAIN
) -> dlt.Pipeline:
    """The portal's pipeline: its own state and raw dataset. `progress`: dlt reports rows per
    table to stderr every 10 s (the CLI's long passes)."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    # A loaded package keeps every row's file unless told not to, and a merge's staging tables
    # keep its last rows: copies of the portal outside the warehouse, growing without end.
    dlt.config["load.delete_completed_jobs"] = True
    dlt.config["load.truncate_staging_dataset"] = True
    return dlt.pipeline(
        pipeline_name=portal.pipeline_name,
        destination=settings.warehouse.destination(),
        dataset_name=portal.dataset,
        pipelines_dir=str(settings.warehouse.dlt_dir),
        progress=(
            dlt.progress.log(log_period=10, logger=sys.stderr, dump_system_stats=False)
            if progress
            else None
        ),
    )


_READY: set[str] = set()  # the engines whose first load this process has prepared


def ready_for_threads(settings: Settings, portal: Portal) -> None:
    """Do here, before loads start side by side in threads, what a process's first load does on
    first use: dlt imports pyarrow and its plugins, and sets up its runtime, only when a
    pipeline first needs them. Two threads importing the same modules at once can be handed one
    of them half-initialized by Python's import locks (seen: "partially initialized module
    'pyarrow' has no attribute 'Table'", one portal's load failed under a busy CPU).
    tests/orchestration/test_portals.py checks that a load imports nothing new after this.
    Once a process and engine (again it costs ~40 ms, on every cycle of the worker)."""
    if settings.warehouse.name in _READY:
        return
    import netrc  # noqa: F401  (requests looks for ~/.netrc on a session's first request)

    import dlt.common.libs.pyarrow  # noqa: F401  (pyarrow, as dlt's extract and normalize use it)

    make_pipeline(settings, portal=portal).destination_client()
    _READY.add(settings.warehouse.name)


def _finish_pending(settings: Settings, pipeline: dlt.Pipeline, portal: str) -> None:
    """Load the packages a killed run left behind, before extracting anything new."""
    if pipeline.has_pending_data:
        settings.warehouse.resuming(pipeline.dataset_name)
        pipeline.normalize()
        _mark(settings, portal)
        pipeline.load()


def _mark(settings: Settings, portal: str) -> None:
    """Before a load commits rows: the marts no longer hold all the raw rows (`raw_changes`)."""
    with settings.warehouse.connect() as con:
        raw_changes.open_mark(con, portal)


def load(
    settings: Settings,
    kind: str,
    make_source: Callable[[dlt.Pipeline], DltSource],
    progress: bool = False,
    more: Callable[[], bool] = lambda: False,
    portal: Portal = MAIN,
) -> RunResult:
    """Load the source `make_source` builds for the pipeline (after finishing what a killed run
    left), again while `more()` says the source has more to load (the windows of a first
    load, each committed before the next is read), then record the run (failed runs too) in
    `ops.sync_runs`. `progress`: dlt's rows per table every 10 s, and a line per window.

    One load of a portal at a time (its load lock, for the whole run). The warehouse's writer
    lock is held only where the warehouse is read or written - dlt's state check, finishing a
    killed run's packages, the source's look at what is held (a backfill's versions, a
    reconcile's IDs), each commit, the run log - never while the portal is read: portals
    extract side by side and take turns to commit."""
    result = RunResult(kind, portal.name)
    warehouse = settings.warehouse
    with warehouse.loading(portal.pipeline_name):
        try:
            pipeline = make_pipeline(settings, progress, portal)
            with warehouse.committing():
                pipeline.sync_destination()  # what `pipeline.run` does first
                _finish_pending(settings, pipeline, portal.name)
            while True:
                with warehouse.committing():  # a backfill's or reconcile's look at what is held
                    source = make_source(pipeline)
                loaded = _extract_and_load(settings, pipeline, source, result)
                if not more():
                    break
                if progress:
                    print(
                        f"First load: a window committed, {sum(loaded.values()):,} rows in it,"
                        f" {sum(result.rows.values()):,} so far; a kill resumes from here",
                        file=sys.stderr,
                        flush=True,
                    )
        except Exception as exc:
            record_run(settings, result, error=exc)
            raise
        if kind == "sync":
            result.data_as_of = state.data_as_of(pipeline)
        record_run(settings, result)
    return result


def _extract_and_load(
    settings: Settings, pipeline: dlt.Pipeline, source: DltSource, result: RunResult
) -> dict[str, int]:
    """One dlt run of `source`: extracted and normalized in the pipeline's own folder, then
    committed under the writer lock. Adds its rows and step seconds to `result`; returns its
    rows per table."""
    seconds = {}
    started = time.perf_counter()
    extracted = _extracted(
        pipeline.extract(source, loader_file_format=settings.warehouse.file_format))
    seconds["extract"] = time.perf_counter() - started
    started = time.perf_counter()
    pipeline.normalize()
    seconds["normalize"] = time.perf_counter() - started
    with settings.warehouse.committing():
        if any(extracted.values()):
            _mark(settings, result.portal)
        started = time.perf_counter()
        pipeline.load()
        seconds["load"] = time.perf_counter() - started
        settings.warehouse.loaded(pipeline.dataset_name,
                                  [table for table, rows in extracted.items() if rows])
    for table, rows in extracted.items():
        result.rows[table] = result.rows.get(table, 0) + rows
    for step, spent in seconds.items():
        result.seconds[step] = result.seconds.get(step, 0.0) + spent
    return extracted


PERSONAL_TABLES = ("leads", "lead_versions", "deals", "deal_versions", "contacts")
PERSONAL_COLUMNS = sorted(name.lower() for name in source_settings.PERSONAL_FIELDS)


def _personal_data(con: Connection, settings: Settings) -> None:
    """Keep `ops.personal_data` true to what the warehouse holds (after a good run, on the run
    log's connection). Opted in: the marker is cleared. Not opted in: personal data loaded
    before (by an older release, or while the setting was on) is erased once, in the raw tables
    and dlt's staging copies of every portal's raw schema, and the marker says when, so later
    runs cost one lookup."""
    if settings.load_personal_data:
        con.execute("delete from ops.personal_data")
        return
    if con.value("select count(*) from ops.personal_data"):
        return
    held: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in con.rows(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema like ? order by 1, 2, 3", [f"{MAIN.dataset}%"]
    ):
        if table in PERSONAL_TABLES and column in PERSONAL_COLUMNS:
            held.setdefault((schema, table), []).append(column)
    for (schema, table), columns in held.items():
        names = [con.ident(c) for c in columns]
        con.execute(f"update {con.ident(schema, table)} set "
                    + ", ".join(f"{n} = null" for n in names)
                    + " where " + " or ".join(f"{n} is not null" for n in names))
    con.execute("insert into ops.personal_data values (?)",
                [datetime.now(UTC).replace(tzinfo=None)])


def _extracted(extract) -> dict[str, int]:
    """The rows a dlt extract step took per table of the source (dlt's own tables left out).
    Counted as extracted (the source's rows are one table row each): dlt 1.31's csv writer
    counts the fields it wrote, not the rows, into the normalize step's figures."""
    rows: dict[str, int] = {}
    for metrics in (extract.metrics.values() if extract else ()):
        for step in metrics:
            for table, table_metrics in step["table_metrics"].items():
                if not table.startswith("_dlt"):
                    rows[table] = rows.get(table, 0) + table_metrics.items_count
    return rows


def error_line(error: BaseException) -> str:
    """What went wrong, in one line: the innermost cause (dlt wraps the source's error in its
    own), the webhook secret redacted."""
    cause = error
    while cause.__cause__ is not None:
        cause = cause.__cause__
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return redact_webhooks(f"{type(cause).__name__}: {first}")[:500]


def record_run(settings: Settings, result: RunResult, error: BaseException | None = None) -> None:
    """Append the run to `ops.sync_runs`. A failure to record a failed run (the warehouse
    locked, say) must not hide the run's own error, so it is swallowed in that case."""
    message = error_line(error) if error is not None else None
    row = [
        result.run_id,
        result.kind,
        result.started_at.replace(tzinfo=None),
        datetime.now(UTC).replace(tzinfo=None),
        "failed" if error else "success",
        result.data_as_of.replace(tzinfo=None) if result.data_as_of else None,
        json.dumps(result.rows),
        message,
        result.portal,
    ]
    try:
        with settings.warehouse.writing(), settings.warehouse.connect() as con:
            for statement in SYNC_RUNS_DDL.split(";"):
                con.execute(statement)
            if error is None:
                _personal_data(con, settings)
            raw_changes.close_marks(con, result.portal)  # what the run committed, it did
            con.execute("insert into ops.sync_runs (run_id, kind, started_at, finished_at, "
                        "status, data_as_of, rows_loaded, error, portal) "
                        "values (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    except settings.warehouse.errors:
        if error is None:
            raise
