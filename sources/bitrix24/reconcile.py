"""Reconcile by ID lists: the portal keeps no tombstones (docs/bitrix24-api.md §8), so deleted
leads and deals are found by listing every ID (select ID only, keyset, 2,500 IDs a request) and
comparing with the warehouse. Missing records are marked in `deleted_records` with the portal time
they were noticed; nothing is removed. A record that shows up again (restored from the recycle bin,
a permission given back) is unmarked.

The same comparison finds records the portal lists and the warehouse has never held, or held
and marked deleted before a restore: a record restored from the recycle bin comes back with its
old DATE_MODIFY, so an incremental pass never reads it (or its last change) when no pass saw it
before it was deleted. Those are read by ID (`@ID`, 50 a page) with
their stage history (`@OWNER_ID`: their history rows keep IDs below the history cursor), their
activities (which keep their old `LAST_UPDATED`) and a deal's product rows, and loaded like any
pass's rows.
"""

import copy
import logging
from collections.abc import Collection, Iterator, Mapping
from datetime import UTC, datetime

import dlt

from . import settings as source_settings
from .client import BitrixClient
from .errors import BitrixAuthError, BitrixError
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
    withheld,
)

log = logging.getLogger(__name__)

ENTITIES = {
    "leads": ("crm.lead.list", "lead_stage_history", 1),
    "deals": ("crm.deal.list", "deal_stage_history", 2),
}
# Streams of one read: three per chunk of IDs (records, stage history, activities), plus
# `server.time`, within a batch of 50 commands.
CHUNKS_PER_READ = (source_settings.BATCH_SIZE - 1) // 3
ISOLATION_ATTEMPTS = 2  # per request while a refused check is split down to its bad ID


@dlt.source(name="bitrix24", section="bitrix24", max_table_nesting=0)
def deletions_source(
    known: dict[str, list[int]],
    webhook_url: str = dlt.secrets.value,
    rate_per_second: float = source_settings.RATE_PER_SECOND,
    burst: int = source_settings.BURST,
    personal_data: bool = False,
):
    """`known`: the IDs per entity the warehouse holds and has not marked deleted;
    `personal_data` as in `bitrix24_source`."""
    client = BitrixClient(webhook_url, rate=rate_per_second, burst=burst)
    pages = reconcile_pages(client, known, personal_data)
    tables = (leads, lead_versions, deals, deal_versions, lead_stage_history, deal_stage_history,
              activities, deal_products)
    return [pages, pages | deleted_records, *(pages | table for table in tables)]


@dlt.resource(name="reconcile_pages", selected=False)
def reconcile_pages(
    client: BitrixClient, known: dict[str, list[int]], personal_data: bool = False
) -> Iterator[Rows]:
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
    yield from _unknown_records(client, unknown, personal_data)
    yield from product_pages(client, unknown["deals"])


def announced_deletions(
    client: BitrixClient,
    announced: Mapping[str, Collection[int]],
    noticed: float,
    refused: list | None = None,
) -> Iterator[Rows]:
    """Deletions an event announced (`ONCRMLEADDELETE`, `ONCRMDEALDELETE`), marked in the pass
    that follows instead of at the next reconcile. An event only says that something happened,
    so the IDs are checked first (`@ID`, 50 a page, in one batch for up to 2,450 IDs): one the
    portal still lists (restored since, or a forged event) is left alone. The marks join the
    reconcile's, which keeps unmarking records that come back.

    One bad ID never blocks the others: when the portal refuses a check, the IDs are checked in
    halves down to one; an ID whose own check is refused is not marked, and is added to
    `refused` as (entity, ID) for the caller to report. Dropping it loses nothing: the
    reconcile compares the full ID lists."""
    size = source_settings.RECONCILE_IDS_PER_REQUEST
    pairs = [(entity, record_id) for entity, ids in announced.items() for record_id in sorted(ids)]
    present, rejected = _still_listed(client, pairs, size)
    if refused is not None:
        refused.extend(rejected)
    state = dlt.current.resource_state("deleted_records")
    rows = []
    for entity, ids in announced.items():
        gone = sorted(set(ids) - {i for e, i in present if e == entity}
                      - {i for e, i in rejected if e == entity})
        rows += [_mark(entity, i, True, noticed) for i in gone]
        state[entity] = sorted(set(state.get(entity, [])) | set(gone))
    if rows:
        yield Rows("deleted_records", rows)


def _still_listed(
    client: BitrixClient, pairs: list[tuple[str, int]], size: int
) -> tuple[set[tuple[str, int]], list[tuple[str, int]]]:
    """(the pairs the portal lists, the pairs whose check it refused)."""
    if not pairs:
        return set(), []
    streams = []
    for entity in sorted({e for e, _ in pairs}):
        ids = [i for e, i in pairs if e == entity]
        streams += [Stream(f"{entity}.{n}", ENTITIES[entity][0],
                           {"filter": {"@ID": ids[n : n + size]}, "select": ["ID"]}, keyset=False)
                    for n in range(0, len(ids), size)]
    try:
        return {(page.stream.split(".")[0], int(row["ID"]))
                for page in read_streams(client, streams) for row in page.rows}, []
    except BitrixAuthError:
        raise  # the webhook itself is refused: the pass fails, nothing is dropped
    except BitrixError as exc:
        if len(pairs) == 1:
            log.warning("the portal refused to check announced deletion %s %s (%s): dropped",
                        pairs[0][0], pairs[0][1], exc)
            return set(), pairs
    # the halves are checked with few retries: a portal failing every call must not hold the
    # writer lock through a hundred rounds of back-off
    isolating = copy.copy(client)
    isolating.max_attempts = min(client.max_attempts, ISOLATION_ATTEMPTS)
    half = len(pairs) // 2
    first, second = (_still_listed(isolating, part, size)
                     for part in (pairs[:half], pairs[half:]))
    return first[0] | second[0], first[1] + second[1]


def _mark(entity: str, record_id: int, deleted: bool, noticed: float) -> dict:
    return {"entity": entity, "id": record_id, "is_deleted": deleted,
            "noticed_at": datetime.fromtimestamp(noticed, UTC)}


def _unknown_records(
    client: BitrixClient, unknown: dict[str, list[int]], personal_data: bool
) -> Iterator[Rows]:
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
                                  keyset=False, omit=withheld(entity, personal_data)))
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
