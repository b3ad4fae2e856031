"""dlt source for a Bitrix24 portal's CRM: leads, deals, every version of them seen, their stage
history, the dictionaries (statuses of every funnel, sources), deal funnels, users and departments.

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
its cursor is the last ID loaded. The cursor state is committed by dlt together with the data, so
a killed run resumes from the last loaded state and the next run completes the work.

History: `lead_versions` / `deal_versions` keep every version a pass observed, keyed by
(ID, DATE_MODIFY, content hash) with `observed_at`; an append-only table keyed this way (rather
than dlt's scd2, which diffs full extracts and would retire every record an incremental pass did
not touch) keeps the portal's own timeline and survives re-reads without duplicates.

Bad values: amounts, IDs and dates that do not parse load as NULL in their typed column, the raw
text goes to `bad_values` (JSON, NULL when the record is clean); the rest of the page loads.
Recurring-deal templates (`IS_RECURRING = Y`) load with `is_recurring_template = true`.
"""

from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, date, datetime

import dlt
from dlt.sources import DltResource

from . import settings
from .client import BitrixClient, Page, Stream, read_streams
from .helpers import clean_crm_record, clean_history_item, parse_datetime, row_hash

CRM = {
    "leads": ("crm.lead.list", settings.LEAD_DATETIMES, settings.LEAD_DATES),
    "deals": ("crm.deal.list", settings.DEAL_DATETIMES, settings.DEAL_DATES),
}
HISTORY = {"lead_stage_history": (1, "STATUS_ID"), "deal_stage_history": (2, "STAGE_ID")}
DICTIONARY_KEYS = {"statuses": "ID", "deal_categories": "id", "users": "ID", "departments": "ID"}
ALL_TABLES = "*"  # a pseudo-stream: every table materialises its schema


def _types(texts, integers, datetimes, dates) -> dict:
    """Column types for dlt, by the warehouse's (snake_case) column names."""
    types = {name.lower(): "text" for name in texts}
    types.update({name.lower(): "bigint" for name in integers})
    types.update({name.lower(): "timestamp" for name in datetimes})
    types.update({name.lower(): "date" for name in dates})
    types.update({name.lower(): "decimal" for name in settings.MONEY})
    types.update(bad_values="json", observed_at="timestamp")
    return types


def _columns(types: dict) -> dict:
    """Column hints, a new dict each: dlt writes into them (a primary key becomes not-null), so
    one dict shared by two columns would make both not-null."""
    return {name: {"data_type": data_type} for name, data_type in types.items()}


LEAD_TYPES = _types(
    settings.LEAD_TEXTS, settings.LEAD_INTEGERS, settings.LEAD_DATETIMES, settings.LEAD_DATES
)
DEAL_TYPES = {
    **_types(
        settings.DEAL_TEXTS, settings.DEAL_INTEGERS, settings.DEAL_DATETIMES, settings.DEAL_DATES
    ),
    "is_recurring_template": "bool",
}
VERSION_TYPES = {"version_key": "text"}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def streams_for(state: dict, overlap_seconds: int) -> list[Stream]:
    streams = []
    for name, (method, _, _) in CRM.items():
        watermark = state.get(name, {}).get("watermark")
        flt = {} if watermark is None else {">=DATE_MODIFY": _iso(watermark - overlap_seconds)}
        streams.append(Stream(name, method, {"filter": flt, "select": ["*", "UF_*"]}))
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
    streams += [
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
        ),
        Stream(
            "departments",
            "department.get",
            {},
            id_filter=(">ID",),
            order={"sort": "ID", "order": "ASC"},
        ),
    ]
    return streams


@dlt.source(name="bitrix24", section="bitrix24", max_table_nesting=0)
def bitrix24_source(
    webhook_url: str = dlt.secrets.value,
    overlap_seconds: int = settings.OVERLAP_SECONDS,
    rate_per_second: float = settings.RATE_PER_SECOND,
    burst: int = settings.BURST,
    max_attempts: int = settings.MAX_ATTEMPTS,
) -> list[DltResource]:
    """Every CRM table of the portal, incrementally. `rate_per_second` 0 turns the client-side
    bucket off (for a portal without limits, such as the emulator in tests)."""
    client = BitrixClient(webhook_url, rate=rate_per_second, burst=burst, max_attempts=max_attempts)
    pages = portal_pages(client, overlap_seconds)
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
        pages | deleted_records,
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
) -> list[DltResource]:
    """Re-read every lead and/or deal created in [`since`, `until`) (portal-local days), whatever
    its DATE_MODIFY: repairs made on the portal without touching DATE_MODIFY (a database fix, a
    UTM import) reach the warehouse this way. `known_versions` are the version keys the
    warehouse holds: a record read exactly as it is held is skipped, so a changed one alone
    reaches the current table and adds a version (the earlier versions keep their
    `observed_at`). The incremental cursor is left as it is."""
    unknown = set(entities) - set(CRM)
    if unknown or not entities:
        raise ValueError(f"entities must be among {', '.join(CRM)}; got {', '.join(entities)}")
    client = BitrixClient(webhook_url, rate=rate_per_second, burst=burst, max_attempts=max_attempts)
    pages = backfill_pages(client, since, until, tuple(entities), frozenset(known_versions))
    tables = {"leads": (leads, lead_versions), "deals": (deals, deal_versions)}
    return [pages, *(pages | table for entity in entities for table in tables[entity])]


@dlt.resource(name="backfill_pages", selected=False)
def backfill_pages(
    client: BitrixClient,
    since: date,
    until: date | None,
    entities: tuple[str, ...],
    known_versions: frozenset[str],
) -> Iterator[dict]:
    """The pages of a backfill window, shaped as `portal_pages` shapes them."""
    window = {">=DATE_CREATE": since.isoformat()}
    if until is not None:
        window["<DATE_CREATE"] = until.isoformat()
    streams = [
        Stream(name, CRM[name][0], {"filter": window, "select": ["*", "UF_*"]}) for name in entities
    ]
    pages = read_streams(client, streams)
    next(pages)  # the pass's server time: a backfill moves no cursor
    for page in pages:
        assert isinstance(page, Page)
        rows, hashes = [], []
        for row in page.rows:
            digest = row_hash(row)
            if version_key(row, digest) not in known_versions:
                rows.append(row)
                hashes.append(digest)
        if rows:
            yield _crm_item(page, rows, hashes)


def _crm_item(page: Page, rows: list, hashes: list) -> dict:
    """Leads or deals of a page for the current and versions tables."""
    return {"stream": page.stream, "rows": rows, "hashes": hashes, "observed_at": page.observed_at}


@dlt.resource(name="portal_pages", selected=False)
def portal_pages(client: BitrixClient, overlap_seconds: int) -> Iterator[dict]:
    """Every page one pass reads, tagged with its stream; the tables below pick theirs."""
    state = dlt.current.resource_state()
    streams = read_streams(client, streams_for(state, overlap_seconds))
    watermark = next(streams)
    horizon = watermark - overlap_seconds
    seen = {
        name: {int(k): v for k, v in state.get(name, {}).get("seen", {}).items()} for name in CRM
    }
    fresh: dict[str, dict[int, float]] = {name: {} for name in CRM}
    snapshots: dict[str, list] = {name: [] for name in DICTIONARY_KEYS}
    for page in streams:
        assert isinstance(page, Page)
        if page.stream in CRM:
            rows, hashes = _unseen(page.rows, seen[page.stream], fresh[page.stream], horizon)
            if rows:
                yield _crm_item(page, rows, hashes)
        elif page.stream in HISTORY:
            yield {"stream": page.stream, "rows": page.rows, "observed_at": page.observed_at}
            state.setdefault(page.stream, {})["last_id"] = int(page.rows[-1]["ID"])
        else:
            snapshots[page.stream].extend(page.rows)
    for name, rows in snapshots.items():
        changed = _dictionary_changes(state.setdefault("dictionaries", {}), name, rows)
        if changed:
            yield {"stream": name, "rows": changed, "observed_at": watermark}
    if not state.get("tables_created"):
        # On the first pass every table is created, rows or not, so an empty portal still
        # gives dbt and BI tools the tables they read.
        yield {"stream": ALL_TABLES}
        state["tables_created"] = True
    for name in CRM:
        entry = state.setdefault(name, {})
        kept = {k: v for k, v in seen[name].items() if v[0] >= horizon}
        kept.update(fresh[name])
        entry["seen"] = {str(k): v for k, v in kept.items()}
        entry["watermark"] = watermark


def _unseen(rows: list, seen: dict, fresh: dict, horizon: float) -> tuple[list, list]:
    """Drop rows an earlier pass already loaded exactly as they are now; remember the new ones
    that the next pass's overlap will read again. Returns the rows and their content hashes.

    DATE_MODIFY alone cannot tell versions apart: it has one-second resolution, and two edits
    within a second share it. A re-read is recognised by (ID, DATE_MODIFY, content hash)."""
    out, hashes = [], []
    for row in rows:
        digest = row_hash(row)
        try:
            record_id = int(row["ID"])
            modified = parse_datetime(row.get("DATE_MODIFY"))
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


def _dictionary_changes(state: dict, name: str, rows: list) -> list:
    """New and changed rows of a dictionary, plus the removed ones marked `is_deleted`."""
    key = DICTIONARY_KEYS[name]
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


def _without_unhinted_nulls(row: dict, hints: dict) -> dict:
    """dlt creates no column for a value it has only seen as null (and warns about each); a
    custom field null on every row of a pass is simply left out until it has a value."""
    return {k: v for k, v in row.items() if v is not None or k.lower() in hints}


def _crm_rows(item: dict, stream: str) -> list[dict]:
    _, datetimes, dates = CRM[stream]
    hints = LEAD_TYPES if stream == "leads" else DEAL_TYPES
    rows = []
    for raw in item["rows"]:
        record = _without_unhinted_nulls(clean_crm_record(raw, datetimes, dates), hints)
        record["observed_at"] = datetime.fromtimestamp(item["observed_at"], UTC)
        if stream == "deals":
            record["is_recurring_template"] = raw.get("IS_RECURRING") == "Y"
        rows.append(record)
    return rows


def version_key(raw: dict, digest: str) -> str:
    """A version of a lead or deal: its ID, DATE_MODIFY as the portal wrote it, content hash."""
    return f"{raw.get('ID')}@{raw.get('DATE_MODIFY')}#{digest}"


def _versions(rows: list[dict], item: dict) -> list[dict]:
    for row, raw, digest in zip(rows, item["rows"], item["hashes"], strict=True):
        row["version_key"] = version_key(raw, digest)
    return rows


def _table(name: str, stream: str, rows_of, doc: str, **hints):
    """A table of the pass: the rows of one stream, shaped by `rows_of`."""

    @dlt.transformer(name=name, write_disposition="merge", **hints)
    def resource(item: dict):
        if item["stream"] == stream:
            yield rows_of(item)
        elif item["stream"] == ALL_TABLES:
            yield dlt.mark.materialize_table_schema()

    resource.__doc__ = doc
    return resource


def _history_table(stream: str):
    _, stage_field = HISTORY[stream]
    return lambda item: [clean_history_item(r, stage_field) for r in item["rows"]]


HISTORY_TYPES = {
    "id": "bigint",
    "type_id": "bigint",
    "owner_id": "bigint",
    "created_time": "timestamp",
}
LEAD_HISTORY_TYPES = {**HISTORY_TYPES, "status_id": "text", "status_semantic_id": "text"}
DEAL_HISTORY_TYPES = {
    **HISTORY_TYPES,
    "category_id": "bigint",
    "stage_id": "text",
    "stage_semantic_id": "text",
}
DICTIONARY_TYPES = {
    "statuses": {
        "id": "text",
        "entity_id": "text",
        "status_id": "text",
        "name": "text",
        "sort": "text",
        "category_id": "text",
        "semantics": "text",
    },
    "deal_categories": {"id": "bigint", "name": "text", "sort": "bigint", "is_default": "text"},
    "users": {
        "id": "text",
        "name": "text",
        "last_name": "text",
        "work_position": "text",
        "active": "bool",
        "uf_department": "json",
    },
    "departments": {"id": "text", "name": "text", "sort": "bigint", "parent": "text"},
}


def _crm_tables(stream: str, noun: str, types: dict, doc: str):
    """The current-state table of leads or deals, and its versions table."""
    current = _table(
        stream,
        stream,
        lambda item: _crm_rows(item, stream),
        doc,
        primary_key="id",
        columns=_columns(types),
    )
    versions = _table(
        f"{noun}_versions",
        stream,
        lambda item: _versions(_crm_rows(item, stream), item),
        f"Every version of a {noun} a pass observed.",
        primary_key="version_key",
        columns=_columns({**types, **VERSION_TYPES}),
    )
    return current, versions


leads, lead_versions = _crm_tables(
    "leads", "lead", LEAD_TYPES, "Current state of every lead (one row per lead)."
)
deals, deal_versions = _crm_tables(
    "deals",
    "deal",
    DEAL_TYPES,
    "Current state of every deal (one row per deal); recurring templates flagged.",
)
lead_stage_history = _table(
    "lead_stage_history",
    "lead_stage_history",
    _history_table("lead_stage_history"),
    "Every lead stage change (crm.stagehistory.list, entityTypeId 1).",
    primary_key="id",
    columns=_columns(LEAD_HISTORY_TYPES),
)
deal_stage_history = _table(
    "deal_stage_history",
    "deal_stage_history",
    _history_table("deal_stage_history"),
    "Every deal stage change (crm.stagehistory.list, entityTypeId 2).",
    primary_key="id",
    columns=_columns(DEAL_HISTORY_TYPES),
)


def _dictionary(name: str):
    return _table(
        name,
        name,
        lambda item: [_without_unhinted_nulls(r, DICTIONARY_TYPES[name]) for r in item["rows"]],
        f"The portal's {name.replace('_', ' ')}; removed entries kept, flagged.",
        primary_key=DICTIONARY_KEYS[name].lower(),
        columns=_columns({**DICTIONARY_TYPES[name], "is_deleted": "bool"}),
    )


# Filled by `reconcile`; created with the other tables so dbt finds it before a first reconcile.
deleted_records = _table(
    "deleted_records",
    "deleted_records",
    lambda item: [],
    "Leads and deals found deleted on the portal (written by reconcile).",
    primary_key=["entity", "id"],
    columns={name: dict(hint) for name, hint in settings.DELETED_RECORDS_COLUMNS.items()},
)

statuses = _dictionary("statuses")
deal_categories = _dictionary("deal_categories")
users = _dictionary("users")
departments = _dictionary("departments")
