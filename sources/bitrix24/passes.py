"""One pass over the portal: the lists it reads from the cursor (`change_streams`), the
dictionaries it reads whole (`dictionary_streams`) and `portal_pages`, the resource that reads
them and moves the cursor in dlt's state (see the package's docstring for the cursor's rules).
"""

from collections.abc import Collection, Iterator, Mapping
from contextlib import closing
from datetime import UTC, datetime

import dlt

from . import settings
from .client import BitrixClient
from .paging import Stream, read_streams
from .products import product_pages
from .reconcile import announced_deletions
from .state import dictionary_changes, unseen
from .tables import ALL_TABLES, CRM, DICTIONARY_KEYS, HISTORY, RELATED, Rows, withheld
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
