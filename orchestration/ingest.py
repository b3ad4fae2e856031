"""Extract and load: the dlt pipeline that copies the portal into `bitrix_raw`, and the
deletion reconcile. Used by the CLI now and by the Dagster assets later."""

from pathlib import Path

import dlt
import duckdb

from orchestration.settings import Settings
from sources.bitrix24 import bitrix24_source
from sources.bitrix24.reconcile import deletions_source

PIPELINE_NAME = "bitrix24"
DATASET = "bitrix_raw"


def make_pipeline(settings: Settings) -> dlt.Pipeline:
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=dlt.destinations.duckdb(str(settings.warehouse_path)),
        dataset_name=DATASET,
        pipelines_dir=str(settings.dlt_dir),
    )


def _finish_pending(pipeline: dlt.Pipeline) -> None:
    """Load the packages a killed run left behind, before extracting anything new."""
    if pipeline.has_pending_data:
        pipeline.normalize()
        pipeline.load()


def sync(settings: Settings, **source_options) -> dict[str, int]:
    """One incremental extract → load pass; returns rows loaded per table."""
    pipeline = make_pipeline(settings)
    _finish_pending(pipeline)
    # Parquet, not dlt's default insert_values (5× slower, 10× the memory) nor jsonl: DuckDB
    # infers a jsonl file's columns from its first 20,480 rows, so a column first filled later
    # (a bad amount, a new custom field) failed the whole load; and dlt 1.31 cannot load the
    # empty jsonl file that creates a table before its first row.
    pipeline.run(bitrix24_source(**source_options), loader_file_format="parquet")
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return {k: v for k, v in counts.items() if not k.startswith("_dlt")}


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


def reconcile(settings: Settings, **source_options) -> dict[str, int]:
    """Mark leads and deals that the portal no longer lists as deleted (nothing is removed)."""
    pipeline = make_pipeline(settings)
    _finish_pending(pipeline)
    ids = known_ids(settings.warehouse_path)
    pipeline.run(deletions_source(known=ids, **source_options), loader_file_format="parquet")
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return {"deleted_records": counts.get("deleted_records", 0)}
