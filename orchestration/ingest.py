"""Extract and load: the dlt pipeline that copies the portal into `bitrix_raw`, the window
backfill and the deletion reconcile, each recorded in `ops.sync_runs`. The CLI and the Dagster
assets both run these functions.

`ops.sync_runs` is the run log that `mart_pipeline_freshness` and `bitrix-warehouse status` read:
one row per run, failed ones included, with the portal time the data is complete as of.
"""

import json
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dlt
import duckdb
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from orchestration.settings import Settings
from sources.bitrix24 import backfill_source, bitrix24_source
from sources.bitrix24.client import redact_webhooks
from sources.bitrix24.reconcile import deletions_source

PIPELINE_NAME = "bitrix24"
DATASET = "bitrix_raw"
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
)"""


@dataclass
class RunResult:
    kind: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    rows: dict[str, int] = field(default_factory=dict)
    data_as_of: datetime | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # extract, normalize, load


def make_pipeline(settings: Settings, progress: bool = False) -> dlt.Pipeline:
    """`progress`: dlt reports rows per table to stderr every 10 s (the CLI's long passes)."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    credentials = DuckDbCredentials(str(settings.warehouse_path))
    # A merge into multi-million-row tables otherwise lets DuckDB's buffer pool grow to 80 % of
    # the machine (6.6 GB at demo scale 10); it spills to disk above this instead.
    credentials.global_config = {"memory_limit": settings.duckdb_memory_limit}
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=dlt.destinations.duckdb(credentials),
        dataset_name=DATASET,
        pipelines_dir=str(settings.dlt_dir),
        progress=(
            dlt.progress.log(log_period=10, logger=sys.stderr, dump_system_stats=False)
            if progress
            else None
        ),
    )


def _finish_pending(pipeline: dlt.Pipeline) -> None:
    """Load the packages a killed run left behind, before extracting anything new."""
    if pipeline.has_pending_data:
        pipeline.normalize()
        pipeline.load()


def _run(settings: Settings, result: RunResult, source, progress: bool = False) -> RunResult:
    """Load a source, then record the run (failed runs too) in `ops.sync_runs`."""
    try:
        pipeline = make_pipeline(settings, progress)
        _finish_pending(pipeline)
        # Parquet, not dlt's default insert_values (5× slower, 10× the memory) nor jsonl: DuckDB
        # infers a jsonl file's columns from its first 20,480 rows, so a column first filled
        # later (a bad amount, a new custom field) failed the whole load; and dlt 1.31 cannot
        # load the empty jsonl file that creates a table before its first row.
        pipeline.run(source(), loader_file_format="parquet")
    except Exception as exc:
        record_run(settings, result, error=exc)
        raise
    trace = pipeline.last_trace
    counts = trace.last_normalize_info.row_counts if trace.last_normalize_info else {}
    result.rows = {k: v for k, v in counts.items() if not k.startswith("_dlt")}
    result.seconds = {
        step.step: (step.finished_at - step.started_at).total_seconds()
        for step in trace.steps
        if step.step in ("extract", "normalize", "load") and step.finished_at
    }
    if result.kind == "sync":
        watermark = (
            pipeline.state.get("sources", {})
            .get("bitrix24", {})
            .get("resources", {})
            .get("portal_pages", {})
            .get("leads", {})
            .get("watermark")
        )
        result.data_as_of = datetime.fromtimestamp(watermark, UTC) if watermark else None
    record_run(settings, result)
    return result


def sync(settings: Settings, progress: bool = False, **source_options) -> RunResult:
    """One incremental extract → load pass."""
    return _run(settings, RunResult("sync"), lambda: bitrix24_source(**source_options), progress)


def backfill(
    settings: Settings,
    since: date,
    until: date | None = None,
    entities: tuple[str, ...] = ("leads", "deals"),
    progress: bool = False,
    **source_options,
) -> RunResult:
    """Re-read the leads/deals created in [since, until); history is kept, the cursor untouched."""
    if until is not None and until <= since:
        raise ValueError(f"the window is empty: until ({until}) is not after since ({since})")
    known = known_versions(settings.warehouse_path, since, until, entities)
    return _run(
        settings,
        RunResult("backfill"),
        lambda: backfill_source(since, until, entities, known, **source_options),
        progress,
    )


def known_versions(
    warehouse: Path, since: date, until: date | None, entities: tuple[str, ...]
) -> set[str]:
    """Version keys held for records created in the window (padded by a day each side: the
    window is in portal days, the column in UTC; extra keys only spare re-loading)."""
    tables = {"leads": "lead_versions", "deals": "deal_versions"}
    keys: set[str] = set()
    if not warehouse.exists():
        return keys
    upper = (until or date.max - timedelta(days=1)) + timedelta(days=1)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for entity in entities:
            try:
                rows = con.execute(
                    f"select version_key from {DATASET}.{tables[entity]} "
                    "where date_create >= ? and date_create < ?",
                    [since - timedelta(days=1), upper],
                ).fetchall()
            except duckdb.CatalogException:
                continue  # not loaded yet
            keys.update(r[0] for r in rows)
    return keys


def reconcile(settings: Settings, **source_options) -> RunResult:
    """Mark leads and deals that the portal no longer lists as deleted (nothing is removed)."""
    ids = known_ids(settings.warehouse_path)
    return _run(
        settings, RunResult("reconcile"), lambda: deletions_source(known=ids, **source_options)
    )


def record_run(settings: Settings, result: RunResult, error: BaseException | None = None) -> None:
    """Append the run to `ops.sync_runs`. A failure to record a failed run (the warehouse
    locked, say) must not hide the run's own error, so it is swallowed in that case."""
    message = None
    if error is not None:
        cause = error
        while cause.__cause__ is not None:  # dlt wraps the source's error in its own
            cause = cause.__cause__
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        message = redact_webhooks(f"{type(cause).__name__}: {first}")[:500]
    row = [
        result.run_id,
        result.kind,
        result.started_at.replace(tzinfo=None),
        datetime.now(UTC).replace(tzinfo=None),
        "failed" if error else "success",
        result.data_as_of.replace(tzinfo=None) if result.data_as_of else None,
        json.dumps(result.rows),
        message,
    ]
    try:
        with _connect(settings.warehouse_path) as con:
            con.execute("insert into ops.sync_runs values (?, ?, ?, ?, ?, ?, ?, ?)", row)
    except duckdb.Error:
        if error is None:
            raise


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute(SYNC_RUNS_DDL)
    return con


def known_ids(warehouse: Path) -> dict[str, list[int]]:
    """IDs of the leads and deals loaded and not yet marked deleted."""
    out = {"leads": [], "deals": []}
    if not warehouse.exists():
        return out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = ?", [DATASET]
            ).fetchall()
        }
        for entity in out:
            if entity not in tables:
                continue
            sql = f"select id from {DATASET}.{entity}"
            if "deleted_records" in tables:
                sql += (
                    f" where id not in (select id from {DATASET}.deleted_records"
                    f" where entity = '{entity}' and is_deleted)"
                )
            out[entity] = [r[0] for r in con.execute(sql).fetchall()]
    return out
