"""dlt source for a Bitrix24 portal's CRM: leads, deals, every version of them seen, their stage
history, contacts, activities (calls, chats, e-mails), the deals' product rows, the dictionaries
(statuses of every funnel, sources), deal funnels, users (what names a manager), departments
and the rates of the portal's currencies.

Auth: an incoming webhook (`SOURCES__BITRIX24__WEBHOOK_URL` or `[sources.bitrix24] webhook_url`
in `.dlt/secrets.toml`). The URL holds a secret; nothing here prints, raises or stores it.

Modules: `client.py` (requests, limits, retries), `paging.py` (keyset pages in batches),
`passes.py` (one pass and its cursor), `tables.py` (the tables a pass fills), `windows.py` (a
first load in windows), `products.py`, `reconcile.py` (deletions), `state.py`, `helpers.py`.

Limits and paging (see `client.py`): one HTTP request is a `batch` of up to 50 keyset pages of 50
rows (`start=-1`), so a full load costs about ceil(rows / 2,500) requests and a pass with no
changes costs one: `server.time` plus the first page of every list, in a single batch.

Cursor: the watermark of leads and deals is the portal's own `server.time` read at the start of
the previous successful pass (not the local clock). Each pass reads `>=DATE_MODIFY` watermark minus
`overlap_seconds`, keyset by ID. A record changed while a pass pages is either read by it or has
`DATE_MODIFY` ≥ the new watermark, so the next pass reads it; records re-read inside the overlap
are recognised by (ID, DATE_MODIFY, content hash) and dropped (DATE_MODIFY alone has one-second
resolution: two edits within a second share it). Stage history is append-only with monotonic IDs:
its cursor is the last ID loaded. Contacts and activities have a watermark of their own on their
own modification time (`DATE_MODIFY`, `LAST_UPDATED`) and merge on ID. Product rows have no
modification time: they are read for the deals a pass loaded (see `products.py`), and for every
deal once when a warehouse first gains the table. The cursor state is committed by dlt together
with the data, so a killed run resumes from the last loaded state and the next run completes
the work.

History: `lead_versions` / `deal_versions` keep every version a pass observed, keyed by
(ID, DATE_MODIFY, content hash) with `observed_at`; an append-only table keyed this way (rather
than dlt's scd2, which diffs full extracts and would retire every record an incremental pass did
not touch) keeps the portal's own timeline and survives re-reads without duplicates.

Bad values: amounts, IDs and dates that do not parse load as NULL in their typed column, the raw
text goes to `bad_values` (JSON, NULL when the record is clean); the rest of the page loads.
Recurring-deal templates (`IS_RECURRING = Y`) load with `is_recurring_template = true`.
"""

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date

import dlt
from dlt.sources import DltResource

from . import settings
from .client import BitrixClient
from .helpers import row_hash, version_key
from .paging import Stream, read_streams
from .passes import portal_pages
from .tables import (
    CRM,
    Rows,
    activities,
    contacts,
    crm_entities,
    currency_rates,
    deal_categories,
    deal_products,
    deal_stage_history,
    deal_versions,
    deals,
    deleted_records,
    departments,
    lead_stage_history,
    lead_versions,
    leads,
    statuses,
    users,
    withheld,
)
from .windows import FirstLoad


@dlt.source(name="bitrix24", section="bitrix24", max_table_nesting=0)
def bitrix24_source(
    webhook_url: str = dlt.secrets.value,
    overlap_seconds: int = settings.OVERLAP_SECONDS,
    rate_per_second: float = settings.RATE_PER_SECOND,
    burst: int = settings.BURST,
    max_attempts: int = settings.MAX_ATTEMPTS,
    related: bool = True,
    deleted: Mapping[str, Collection[int]] | None = None,
    window_rows: int = settings.WINDOW_ROWS,
    first_load: FirstLoad | None = None,
    refused: list | None = None,
    personal_data: bool = False,
) -> list[DltResource]:
    """Every CRM table of the portal, incrementally. `rate_per_second` 0 turns the client-side
    bucket off (for a portal without limits, such as the emulator in tests); `related` False
    leaves out contacts, activities and product rows (a benchmark comparing the export of
    leads, deals and their history with other clients); `deleted`: lead and deal IDs whose
    deletion an event announced, checked and marked in this pass (see `reconcile.py`), and
    `refused` collects those whose check the portal refused (dropped, for the caller to report).
    `personal_data`: load customers' names, birth dates, addresses and comments too (off: no
    mart needs them, and holding them is an obligation, see `settings.PERSONAL_FIELDS`).

    A first load runs in windows of `window_rows` records, one window a pass (see
    `windows.py`): `first_load.pending` says another pass must follow. The windows of one
    process share `first_load`, so the portal is read ahead while a window is written; without
    it each pass starts its own read from the state."""
    client = BitrixClient(webhook_url, rate=rate_per_second, burst=burst, max_attempts=max_attempts)
    pages = portal_pages(client, overlap_seconds, related, deleted or {}, window_rows, first_load,
                         refused, personal_data)
    return [
        pages,
        pages | leads,
        pages | lead_versions,
        pages | deals,
        pages | deal_versions,
        pages | lead_stage_history,
        pages | deal_stage_history,
        pages | statuses,
        pages | deal_categories,
        pages | users,
        pages | departments,
        pages | currency_rates,
        pages | deleted_records,
        pages | contacts,
        pages | activities,
        pages | deal_products,
    ]


@dlt.source(name="bitrix24", section="bitrix24", max_table_nesting=0)
def backfill_source(
    since: date,
    until: date | None = None,
    entities: Sequence[str] = tuple(CRM),
    known_versions: Collection[str] = (),
    webhook_url: str = dlt.secrets.value,
    rate_per_second: float = settings.RATE_PER_SECOND,
    burst: int = settings.BURST,
    max_attempts: int = settings.MAX_ATTEMPTS,
    personal_data: bool = False,
) -> list[DltResource]:
    """Re-read every lead and/or deal created in [`since`, `until`) (portal-local days), whatever
    its DATE_MODIFY: repairs made on the portal without touching DATE_MODIFY (a database fix, a
    UTM import) reach the warehouse this way. `known_versions` are the version keys the
    warehouse holds: a record read exactly as it is held is skipped, so a changed one alone
    reaches the current table and adds a version (the earlier versions keep their
    `observed_at`). The incremental cursor is left as it is."""
    entities = crm_entities(entities)
    client = BitrixClient(webhook_url, rate=rate_per_second, burst=burst, max_attempts=max_attempts)
    pages = backfill_pages(client, since, until, entities, frozenset(known_versions),
                           personal_data)
    tables = {"leads": (leads, lead_versions), "deals": (deals, deal_versions)}
    return [pages, *(pages | table for entity in entities for table in tables[entity])]


@dlt.resource(name="backfill_pages", selected=False)
def backfill_pages(
    client: BitrixClient,
    since: date,
    until: date | None,
    entities: tuple[str, ...],
    known_versions: frozenset[str],
    personal_data: bool = False,
) -> Iterator[Rows]:
    """The pages of a backfill window, shaped as `portal_pages` shapes them."""
    window = {">=DATE_CREATE": since.isoformat()}
    if until is not None:
        window["<DATE_CREATE"] = until.isoformat()
    streams = [
        Stream(name, CRM[name][0], {"filter": window, "select": ["*", "UF_*"]},
               omit=withheld(name, personal_data))
        for name in entities
    ]
    for page in read_streams(client, streams):  # a backfill moves no cursor
        rows, hashes = [], []
        for row in page.rows:
            digest = row_hash(row)
            if version_key(row, digest) not in known_versions:
                rows.append(row)
                hashes.append(digest)
        if rows:
            yield Rows(page.stream, rows, page.observed_at, hashes)
