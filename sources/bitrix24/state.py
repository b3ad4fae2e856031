"""What the source remembers between passes, and what it asks of the warehouse it loaded.

The cursor lives in dlt's state of the `portal_pages` resource, committed with the data: per
entity the `watermark` (the portal's `server.time` at the start of the last good pass) and the
versions read inside the overlap (`seen`); per history stream the last ID loaded; per dictionary
its last snapshot. The deletion marks live in the `deleted_records` resource's state.

The warehouse is read through the pipeline's own SQL client (whatever its destination): the
version keys a backfill can skip and the IDs a reconcile compares. Orchestration asks these
functions; it never walks the state or queries the raw tables itself.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.destinations.sql_client import SqlClientBase

from .helpers import parse_datetime, row_hash

SOURCE, PASS_RESOURCE = "bitrix24", "portal_pages"
CRM_TABLES = {"leads": "lead_versions", "deals": "deal_versions"}


def data_as_of(pipeline: dlt.Pipeline) -> datetime | None:
    """The portal time the incremental tables are complete as of: every change before it is
    loaded (None before the first pass)."""
    resources = pipeline.state.get("sources", {}).get(SOURCE, {}).get("resources", {})
    watermark = resources.get(PASS_RESOURCE, {}).get("leads", {}).get("watermark")
    return datetime.fromtimestamp(watermark, UTC) if watermark else None


def unseen(
    rows: list, seen: dict, fresh: dict, horizon: float, modified_field: str = "DATE_MODIFY"
) -> tuple[list, list]:
    """Drop rows an earlier pass already loaded exactly as they are now; remember the new ones
    that the next pass's overlap will read again. Returns the rows and their content hashes.

    DATE_MODIFY (an activity's LAST_UPDATED) alone cannot tell versions apart: it has one-second
    resolution, and two edits within a second share it. A re-read is recognised by (ID,
    modification time, content hash)."""
    out, hashes = [], []
    for row in rows:
        digest = row_hash(row)
        try:
            record_id = int(row["ID"])
            modified = parse_datetime(row.get(modified_field))
        except (KeyError, TypeError, ValueError):
            out.append(row)  # loads flagged; it cannot be tracked by DATE_MODIFY
            hashes.append(digest)
            continue
        stamp = modified.timestamp() if modified else None
        if stamp is not None and seen.get(record_id) == [stamp, digest]:
            continue
        if stamp is not None and stamp >= horizon:
            fresh[record_id] = [stamp, digest]
        out.append(row)
        hashes.append(digest)
    return out, hashes


def dictionary_changes(state: dict, name: str, key: str, rows: list) -> list:
    """New and changed rows of a dictionary (keyed by `key`), plus the removed ones marked
    `is_deleted`; the snapshot in `state` is brought up to date."""
    previous = state.get(name, {})
    current = {str(r[key]): r for r in rows}
    changed = [
        {**row, "is_deleted": False}
        for k, row in current.items()
        if previous.get(k, {}).get("hash") != row_hash(row)
    ]
    changed += [
        {**entry["row"], "is_deleted": True}
        for k, entry in previous.items()
        if k not in current and not entry.get("deleted")
    ]
    state[name] = {k: {"hash": row_hash(r), "row": r} for k, r in current.items()}
    state[name].update({k: {**e, "deleted": True} for k, e in previous.items() if k not in current})
    return changed


def _select(client: SqlClientBase, table: str, sql: str, *args) -> list[tuple]:
    """Rows of a query on one raw table (`{table}` in `sql`); none when it is not loaded yet."""
    try:
        with client.execute_query(
            sql.format(table=client.make_qualified_table_name(table)), *args
        ) as cursor:
            return cursor.fetchall()
    except DatabaseUndefinedRelation:
        return []


def known_versions(
    pipeline: dlt.Pipeline, since: date, until: date | None, entities: Sequence[str]
) -> set[str]:
    """Version keys held for records created in the window (padded by a day each side: the
    window is in portal days, the column in UTC; extra keys only spare re-loading)."""
    upper = (until or date.max - timedelta(days=1)) + timedelta(days=1)
    keys: set[str] = set()
    with pipeline.sql_client() as client:
        for entity in entities:
            rows = _select(
                client,
                CRM_TABLES[entity],
                "select version_key from {table} where date_create >= %s and date_create < %s",
                since - timedelta(days=1),
                upper,
            )
            keys.update(r[0] for r in rows)
    return keys


def known_ids(pipeline: dlt.Pipeline) -> dict[str, list[int]]:
    """IDs of the leads and deals loaded and not marked deleted."""
    with pipeline.sql_client() as client:
        deleted = _select(
            client, "deleted_records", "select entity, id from {table} where is_deleted"
        )
        gone = {(entity, record_id) for entity, record_id in deleted}
        return {
            entity: [
                r[0]
                for r in _select(client, entity, "select id from {table}")
                if (entity, r[0]) not in gone
            ]
            for entity in CRM_TABLES
        }
