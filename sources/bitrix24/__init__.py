"""dlt source for a Bitrix24 portal's CRM: leads, deals, every version of them seen, their stage
history, contacts, activities (calls, chats, e-mails), the deals' product rows, the dictionaries
(statuses of every funnel, sources), deal funnels, users (what names a manager), departments
and the rates of the portal's currencies.

Auth: an incoming webhook (`SOURCES__BITRIX24__WEBHOOK_URL` or `[sources.bitrix24] webhook_url`
in `.dlt/secrets.toml`). The URL holds a secret; nothing here prints, raises or stores it.

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
from contextlib import closing
from datetime import UTC, date, datetime

import dlt
from dlt.sources import DltResource

from . import settings
from .client import BitrixClient
from .helpers import row_hash, version_key
from .paging import Stream, read_streams
from .products import product_pages
from .reconcile import announced_deletions
from .state import dictionary_changes, unseen
from .tables import (
    ALL_TABLES,
    CRM,
    DICTIONARY_KEYS,
    HISTORY,
    RELATED,
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

# The set of tables a pass creates; raised when a release adds one (an older warehouse then gets
# the new tables created on its next pass).
TABLES_VERSION = 3


def _every_deal(client: BitrixClient) -> list[int]:
    """Every deal ID on the portal, read as an ID-only keyset list."""
    read = read_streams(client, [Stream("deal_ids", "crm.deal.list", {"select": ["ID"]})])
    return [int(row["ID"]) for page in read for row in page.rows]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def change_streams(
    state: dict, overlap_seconds: int, related: bool = True, personal_data: bool = False
) -> list[Stream]:
    """The lists a pass reads from its cursor in `state` (`related`: with contacts and
    activities): what changed since the watermark, the stage history after its last ID. A first
    load in windows goes on from the ID each list reached (`first_load.after`). Customers'
    personal data is dropped as rows are read unless `personal_data`."""
    after = state.get("first_load", {}).get("after", {})
    lists = [(name, method, "DATE_MODIFY", ["*", "UF_*"]) for name, (method, _, _) in CRM.items()]
    if related:
        lists += [(name, method, cursor, list(select)) for name, (method, cursor, select)
                  in RELATED.items()]
    streams = []
    for name, method, cursor, select in lists:
        watermark = state.get(name, {}).get("watermark")
        flt = {} if watermark is None else {f">={cursor}": _iso(watermark - overlap_seconds)}
        params = {"filter": flt, "select": select}
        streams.append(Stream(name, method, params, last_id=after.get(name, 0),
                              omit=withheld(name, personal_data)))
    for name, (entity_type, _) in HISTORY.items():
        streams.append(
            Stream(
                name,
                "crm.stagehistory.list",
                {"entityTypeId": entity_type},
                wrapper="items",
                last_id=state.get(name, {}).get("last_id", 0),
            )
        )
    return streams


def dictionary_streams() -> list[Stream]:
    """The dictionaries, read whole by every pass and compared with their last snapshot."""
    return [
        Stream(
            "statuses",
            "crm.status.list",
            {"order": {"ENTITY_ID": "ASC", "SORT": "ASC"}},
            keyset=False,
        ),
        Stream(
            "deal_categories",
            "crm.category.list",
            {"entityTypeId": 2},
            keyset=False,
            wrapper="categories",
        ),
        Stream(
            "users",
            "user.get",
            {},
            id_filter=("FILTER", ">ID"),
            order={"sort": "ID", "order": "ASC"},
            keep=settings.USER_FIELDS,
        ),
        Stream(
            "departments",
            "department.get",
            {},
            id_filter=(">ID",),
            order={"sort": "ID", "order": "ASC"},
        ),
        Stream("currencies", "crm.currency.list", {}, keyset=False),
    ]


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


@dlt.resource(name="portal_pages", selected=False)
def portal_pages(
    client: BitrixClient,
    overlap_seconds: int,
    related: bool,
    deleted: Mapping[str, Collection[int]],
    window_rows: int,
    first_load: FirstLoad | None,
    refused: list | None = None,
    personal_data: bool = False,
) -> Iterator[Rows]:
    """Every page one pass reads, tagged with its stream; the tables below pick theirs."""
    if first_load is not None:
        yield from _pass(client, overlap_seconds, related, deleted, window_rows, first_load,
                         refused, personal_data)
        return
    with closing(FirstLoad()) as own:  # a read ahead of this pass alone ends with it
        yield from _pass(client, overlap_seconds, related, deleted, window_rows, own, refused,
                         personal_data)


def _pass(
    client: BitrixClient,
    overlap_seconds: int,
    related: bool,
    deleted: Mapping[str, Collection[int]],
    window_rows: int,
    first_load: FirstLoad,
    refused: list | None,
    personal_data: bool,
) -> Iterator[Rows]:
    state = dlt.current.resource_state()
    first = state.get("leads", {}).get("watermark") is None
    if first:  # a window of the first load
        read = first_load.start(
            client, change_streams(state, overlap_seconds, related, personal_data))
        client = read.client  # one bucket for the read ahead and this window's own requests
        progress = state.setdefault("first_load", {"server_time": read.server_time, "after": {}})
        watermark = progress["server_time"]
        pages = read.window(window_rows)
    else:
        read = read_streams(client, [
            *change_streams(state, overlap_seconds, related, personal_data),
            *dictionary_streams(),
        ])
        watermark = read.server_time
        pages = iter(read)
    horizon = watermark - overlap_seconds
    # Lists read on a modification time (stream → its field): rows re-read inside the overlap
    # exactly as loaded before are dropped, so an idle pass loads nothing.
    tracked = {name: "DATE_MODIFY" for name in CRM}
    if related:
        tracked.update({name: cursor for name, (_, cursor, _) in RELATED.items()})
    seen = {
        name: {int(k): v for k, v in state.get(name, {}).get("seen", {}).items()}
        for name in tracked
    }
    fresh: dict[str, dict[int, float]] = {name: {} for name in tracked}
    snapshots: dict[str, list] = {name: [] for name in DICTIONARY_KEYS}
    loaded_deals: list[int] = []
    for page in pages:
        if page.stream in tracked:
            rows, hashes = unseen(page.rows, seen[page.stream], fresh[page.stream], horizon,
                                  tracked[page.stream])
            if rows:
                yield Rows(page.stream, rows, page.observed_at, hashes)
            if page.stream == "deals":
                loaded_deals += [int(row["ID"]) for row in rows]
            if first:  # a keyset page's last row has a numeric ID (`paging._advance`)
                progress["after"][page.stream] = int(page.rows[-1]["ID"])
        elif page.stream in HISTORY:
            yield Rows(page.stream, page.rows, page.observed_at)
            state.setdefault(page.stream, {})["last_id"] = int(page.rows[-1]["ID"])
        else:
            snapshots[page.stream].extend(page.rows)
    complete = not first or read.exhausted
    dictionaries = state.setdefault("dictionaries", {})
    if first and complete:
        for page in read_streams(client, dictionary_streams()):
            snapshots[page.stream].extend(page.rows)
    elif first and "currencies" not in dictionaries:
        # The rates, once, at the first window: the deals of a first load in windows have
        # amounts in the base currency before the load ends (the rest waits for its end).
        rates = [s for s in dictionary_streams() if s.name == "currencies"]
        for page in read_streams(client, rates):
            snapshots[page.stream].extend(page.rows)
    for name, rows in snapshots.items():
        if not complete and not rows:
            continue  # a window read no such dictionary: nothing about it is known yet
        changed = dictionary_changes(dictionaries, name, DICTIONARY_KEYS[name], rows)
        if changed:
            yield Rows(name, changed, watermark)
    if related:
        if not state.get("products_complete") and not first:
            # A warehouse that first gains product rows reads them for every deal the portal
            # has (a first load reads them for the deals of each window).
            loaded_deals = _every_deal(client)
        yield from product_pages(client, loaded_deals)
        state["products_complete"] = complete
    if complete and any(deleted.values()):
        yield from announced_deletions(client, deleted, watermark, refused)
    if state.get("tables_created") != TABLES_VERSION:
        # Every table is created, rows or not, on a first pass and when a release adds tables,
        # so an empty portal still gives dbt and BI tools the tables they read.
        yield Rows(ALL_TABLES)
        state["tables_created"] = TABLES_VERSION
    for name in tracked:
        entry = state.setdefault(name, {})
        kept = {k: v for k, v in seen[name].items() if v[0] >= horizon}
        kept.update(fresh[name])
        entry["seen"] = {str(k): v for k, v in kept.items()}
        if complete:
            entry["watermark"] = watermark
    if first:
        first_load.pending = not complete
        if complete:
            del state["first_load"]
