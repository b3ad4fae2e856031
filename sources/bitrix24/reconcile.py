"""Deletion reconcile: the portal keeps no tombstones (reference §8), so deleted leads and deals
are found by listing every ID (select ID only, keyset, 2,500 IDs a request) and comparing with the
warehouse. Missing records are marked in `deleted_records` with the portal time they were noticed;
nothing is removed. A record that shows up again (a permission restored) is unmarked.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import dlt

from . import settings
from .client import BitrixClient, Page, Stream, read_streams

ENTITIES = {"leads": "crm.lead.list", "deals": "crm.deal.list"}
DELETED_RECORDS_COLUMNS = {
    "entity": {"data_type": "text", "nullable": False},
    "id": {"data_type": "bigint", "nullable": False},
    "is_deleted": {"data_type": "bool"},
    "noticed_at": {"data_type": "timestamp"},
}


@dlt.source(name="bitrix24", section="bitrix24", max_table_nesting=0)
def deletions_source(
    known: dict[str, list[int]],
    webhook_url: str = dlt.secrets.value,
    rate_per_second: float = settings.RATE_PER_SECOND,
    burst: int = settings.BURST,
):
    """`known`: the IDs per entity the warehouse holds and has not marked deleted."""
    client = BitrixClient(webhook_url, rate=rate_per_second, burst=burst)
    return deleted_records(client, known)


@dlt.resource(
    name="deleted_records",
    primary_key=["entity", "id"],
    write_disposition="merge",
    columns=DELETED_RECORDS_COLUMNS,
)
def deleted_records(client: BitrixClient, known: dict[str, list[int]]) -> Iterator[list[dict]]:
    """One row per lead or deal ever found missing: `is_deleted`, and when it was noticed."""
    yield dlt.mark.materialize_table_schema()  # the table exists before a first deletion
    state = dlt.current.resource_state()
    streams = [Stream(name, method, {"select": ["ID"]}) for name, method in ENTITIES.items()]
    pages = read_streams(client, streams)
    noticed = datetime.fromtimestamp(next(pages), UTC)
    present: dict[str, set[int]] = {name: set() for name in ENTITIES}
    for page in pages:
        assert isinstance(page, Page)
        present[page.stream].update(int(r["ID"]) for r in page.rows)
    for entity in ENTITIES:
        marked = set(state.get(entity, []))
        missing = set(known.get(entity, [])) - present[entity]
        back = marked & present[entity]
        rows = [
            {"entity": entity, "id": i, "is_deleted": True, "noticed_at": noticed}
            for i in sorted(missing)
        ]
        rows += [
            {"entity": entity, "id": i, "is_deleted": False, "noticed_at": noticed}
            for i in sorted(back)
        ]
        if rows:
            yield rows
        state[entity] = sorted((marked | missing) - back)
