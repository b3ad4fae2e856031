"""Reconcile by ID lists: the portal keeps no tombstones (reference §8), so deleted leads and
deals are found by listing every ID (select ID only, keyset, 2,500 IDs a request) and comparing
with the warehouse. Missing records are marked in `deleted_records` with the portal time they
were noticed; nothing is removed. A record that shows up again (restored from the recycle bin, a
permission given back) is unmarked.

The same comparison finds records the portal lists and the warehouse has never held, or held
and marked deleted before a restore: a record restored from the recycle bin comes back with its
old DATE_MODIFY, so an incremental pass never reads it (or its last change) when no pass saw it
before it was deleted. Those are read by ID (`@ID`, 50 a page) with
their stage history (`@OWNER_ID`: their history rows keep IDs below the history cursor), their
activities (which keep their old `LAST_UPDATED`) and a deal's product rows, and loaded like any
pass's rows.
"""

from collections.abc import Collection, Iterator, Mapping
from datetime import UTC, datetime

import dlt

from . import settings as source_settings
from .client import BitrixClient
from .helpers import row_hash
from .paging import Stream, read_streams
from .products import product_pages
from .tables import (
    RELATED,
    Rows,
    activities,
    deal_products,
    deal_stage_history,
    deal_versions,
    deals,
    deleted_records,
    lead_stage_history,
    lead_versions,
    leads,
)

ENTITIES = {
    "leads": ("crm.lead.list", "lead_stage_history", 1),
    "deals": ("crm.deal.list", "deal_stage_history", 2),
}
# Streams of one read: three per chunk of IDs (records, stage history, activities), plus
# `server.time`, within a batch of 50 commands.
CHUNKS_PER_READ = (source_settings.BATCH_SIZE - 1) // 3


@dlt.source(name="bitrix24", section="bitrix24", max_table_nesting=0)
def deletions_source(
    known: dict[str, list[int]],
    webhook_url: str = dlt.secrets.value,
    rate_per_second: float = source_settings.RATE_PER_SECOND,
    burst: int = source_settings.BURST,
):
    """`known`: the IDs per entity the warehouse holds and has not marked deleted."""
    client = BitrixClient(webhook_url, rate=rate_per_second, burst=burst)
    pages = reconcile_pages(client, known)
    tables = (leads, lead_versions, deals, deal_versions, lead_stage_history, deal_stage_history,
              activities, deal_products)
    return [pages, pages | deleted_records, *(pages | table for table in tables)]


@dlt.resource(name="reconcile_pages", selected=False)
def reconcile_pages(client: BitrixClient, known: dict[str, list[int]]) -> Iterator[Rows]:
    # the marks live where the first versions of reconcile kept them
    state = dlt.current.resource_state("deleted_records")
    streams = [Stream(name, method, {"select": ["ID"]}) for name, (method, *_) in ENTITIES.items()]
    pages = read_streams(client, streams)
    noticed = pages.server_time
    present: dict[str, set[int]] = {name: set() for name in ENTITIES}
    for page in pages:
        present[page.stream].update(int(r["ID"]) for r in page.rows)
    unknown: dict[str, list[int]] = {}
    for entity in ENTITIES:
        marked = set(state.get(entity, []))
        missing = set(known.get(entity, [])) - present[entity]
        back = marked & present[entity]
        rows = [_mark(entity, i, True, noticed) for i in sorted(missing)]
        rows += [_mark(entity, i, False, noticed) for i in sorted(back)]
        if rows:
            yield Rows("deleted_records", rows)
        state[entity] = sorted((marked | missing) - back)
        # Read again in full: records never held, and restored ones (a restore keeps the old
        # DATE_MODIFY and LAST_UPDATED, so a change made just before the delete, after the last
        # pass, would otherwise never load).
        unknown[entity] = sorted(
            (present[entity] - set(known.get(entity, [])) - marked) | back
        )
    yield from _unknown_records(client, unknown)
    yield from product_pages(client, unknown["deals"])


def announced_deletions(
    client: BitrixClient, announced: Mapping[str, Collection[int]], noticed: float
) -> Iterator[Rows]:
    """Deletions an event announced (`ONCRMLEADDELETE`, `ONCRMDEALDELETE`), marked in the pass
    that follows instead of at the next reconcile. An event only says that something happened,
    so the IDs are checked first (`@ID`, 50 a page, in one batch for up to 2,450 IDs): one the
    portal still lists (restored since, or a forged event) is left alone. The marks join the
    reconcile's, which keeps unmarking records that come back."""
    size = source_settings.RECONCILE_IDS_PER_REQUEST
    streams = [
        Stream(f"{entity}.{i}", ENTITIES[entity][0],
               {"filter": {"@ID": ids[i : i + size]}, "select": ["ID"]}, keyset=False)
        for entity, wanted in announced.items()
        for ids in [sorted(wanted)]
        for i in range(0, len(ids), size)
    ]
    present: set[tuple[str, int]] = set()
    for page in read_streams(client, streams):
        entity = page.stream.split(".")[0]
        present.update((entity, int(row["ID"])) for row in page.rows)
    state = dlt.current.resource_state("deleted_records")
    rows = []
    for entity, ids in announced.items():
        gone = sorted(set(ids) - {i for e, i in present if e == entity})
        rows += [_mark(entity, i, True, noticed) for i in gone]
        state[entity] = sorted(set(state.get(entity, [])) | set(gone))
    if rows:
        yield Rows("deleted_records", rows)


def _mark(entity: str, record_id: int, deleted: bool, noticed: float) -> dict:
    return {"entity": entity, "id": record_id, "is_deleted": deleted,
            "noticed_at": datetime.fromtimestamp(noticed, UTC)}


def _unknown_records(client: BitrixClient, unknown: dict[str, list[int]]) -> Iterator[Rows]:
    """The records the portal lists and the warehouse never held, with their stage history and
    activities."""
    size = source_settings.RECONCILE_IDS_PER_REQUEST
    chunks = [
        (entity, ids[i : i + size])
        for entity, ids in unknown.items()
        for i in range(0, len(ids), size)
    ]
    for start in range(0, len(chunks), CHUNKS_PER_READ):
        streams = []
        for n, (entity, ids) in enumerate(chunks[start : start + CHUNKS_PER_READ]):
            method, history, entity_type = ENTITIES[entity]
            streams.append(Stream(f"{entity}.{n}", method,
                                  {"filter": {"@ID": ids}, "select": ["*", "UF_*"]},
                                  keyset=False))
            streams.append(Stream(f"{history}.{n}", "crm.stagehistory.list",
                                  {"entityTypeId": entity_type, "filter": {"@OWNER_ID": ids}},
                                  wrapper="items"))
            activity_method, _, activity_select = RELATED["activities"]
            streams.append(Stream(f"activities.{n}", activity_method,
                                  {"filter": {"OWNER_TYPE_ID": entity_type, "@OWNER_ID": ids},
                                   "select": list(activity_select)}))
        for page in read_streams(client, streams):
            stream = page.stream.split(".")[0]
            if not page.rows:
                continue
            if stream in ENTITIES:
                yield Rows(stream, page.rows, page.observed_at, [row_hash(r) for r in page.rows])
            else:
                yield Rows(stream, page.rows, page.observed_at)
