"""`bitrix-warehouse status`: how fresh the published marts are, per entity, and how the latest
runs ended. Reads the BI copy (never locked) and the warehouse's run log when no run holds it."""

import json
from datetime import UTC, datetime

from orchestration.pipeline import export
from orchestration.pipeline.settings import Settings

FRESHNESS = """
    select portal, entity, row_count, data_as_of, last_synced_at, lag_minutes, built_at
    from marts.mart_pipeline_freshness order by portal, entity"""
RUNS = """
    select portal, kind, status, finished_at, rows_loaded, error
    from ops.sync_runs order by finished_at desc limit 5"""


def report(settings: Settings) -> str:
    now = datetime.now(UTC).replace(tzinfo=None)
    lines = [f"Published marts: {settings.warehouse.location()}"]
    if settings.warehouse.is_published():
        with settings.warehouse.read_published() as con:
            rows = [list(r) for r in con.execute(FRESHNESS).fetchall()]
        synced: dict[str, datetime] = {}  # each portal's last successful sync
        for portal, *_, last_synced_at, _lag, _built in rows:
            if last_synced_at and (portal not in synced or last_synced_at > synced[portal]):
                synced[portal] = last_synced_at
        if not synced:
            lines.append("  no successful sync yet")
        else:  # as fresh as the portal synced longest ago
            portal, oldest = min(synced.items(), key=lambda item: item[1])
            age = (now - oldest).total_seconds() / 60
            verdict = "STALE" if age > settings.stale_after_minutes else "fresh"
            which = f" (portal {portal})" if len(synced) > 1 else ""
            lines.append(
                f"  {verdict}: last successful sync {age:.1f} min ago{which} "
                f"(stale after {settings.stale_after_minutes:g} min)"
            )
        header = ["portal", "entity", "rows", "data as of (UTC)", "synced at (UTC)", "lag min",
                  "built at"]
        lines += export.text_table(header, rows)
    else:
        lines.append("  not published yet: run `bitrix-warehouse sync`")
    lines += ["", f"Latest runs: {settings.warehouse.describe()}"]
    try:
        with settings.warehouse.connect(read_only=True) as con:
            runs = con.rows(RUNS)
    except settings.warehouse.busy_errors:
        lines.append("  a run holds the warehouse right now")
        return "\n".join(lines)
    except settings.warehouse.errors as exc:
        if "sync_runs" not in str(exc):  # the run log not created yet: no runs
            raise
        runs = []
    if not runs:
        lines.append("  no runs yet")
        return "\n".join(lines)
    table_rows = [
        # DuckDB hands a json column over as text, psycopg2 as a dict
        [portal, kind, status, finished,
         sum((json.loads(loaded) if isinstance(loaded, str) else loaded or {}).values()),
         error or ""]
        for portal, kind, status, finished, loaded, error in runs
    ]
    lines += export.text_table(["portal", "run", "result", "finished (UTC)", "rows", "error"],
                               table_rows)
    return "\n".join(lines)
