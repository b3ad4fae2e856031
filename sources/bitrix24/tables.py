"""The warehouse tables the source loads, each a dlt transformer that picks its stream's rows from
what the pass resources hand over (`Rows`), with the column types dlt is told up front."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import dlt

from . import settings
from .helpers import clean_crm_record, clean_history_item, version_key

CRM = {
    "leads": ("crm.lead.list", settings.LEAD_DATETIMES, settings.LEAD_DATES),
    "deals": ("crm.deal.list", settings.DEAL_DATETIMES, settings.DEAL_DATES),
}
HISTORY = {"lead_stage_history": (1, "STATUS_ID"), "deal_stage_history": (2, "STAGE_ID")}
# Lists read incrementally on their own modification time and merged on ID, without versions:
# stream → (method, cursor field, select).
RELATED = {
    "contacts": ("crm.contact.list", "DATE_MODIFY", ("*",)),
    "activities": ("crm.activity.list", "LAST_UPDATED", settings.ACTIVITY_SELECT),
}
DICTIONARY_KEYS = {
    "statuses": "ID", "deal_categories": "id", "users": "ID", "departments": "ID",
    "currencies": "CURRENCY",
}
ALL_TABLES = "*"  # a pseudo-stream: every table materialises its schema


def crm_entities(entities) -> tuple[str, ...]:
    """`entities` checked against what the source can read (a ValueError names the choice),
    each once (a table named twice would be two resources of one name)."""
    wanted = tuple(dict.fromkeys(entities))
    unknown = [e for e in wanted if e not in CRM]
    if unknown or not wanted:
        raise ValueError(
            f"unknown entities: {', '.join(unknown) or '(none)'}; choose from {', '.join(CRM)}"
        )
    return wanted


def withheld(stream: str, personal_data: bool) -> frozenset:
    """The fields a stream's rows lose as they are read: customers' personal data, unless the
    warehouse opts in."""
    if personal_data or stream not in settings.PERSONAL_STREAMS:
        return frozenset()
    return settings.PERSONAL_FIELDS


@dataclass(frozen=True)
class Rows:
    """Rows of one stream, read at `observed_at` (portal time, unix seconds); leads and deals
    carry their content hashes (`version_key`)."""

    stream: str
    rows: list = field(default_factory=list)
    observed_at: float | None = None
    hashes: list | None = None


def _types(texts, integers, datetimes, dates, money=settings.MONEY) -> dict:
    """Column types for dlt, by the warehouse's (snake_case) column names."""
    types = {name.lower(): "text" for name in texts}
    types.update({name.lower(): "bigint" for name in integers})
    types.update({name.lower(): "timestamp" for name in datetimes})
    # a birth date is parsed as a date when loaded (opted in), never declared
    types.update({name.lower(): "date" for name in dates if name not in settings.PERSONAL_FIELDS})
    types.update({name.lower(): "decimal" for name in money})
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


def _without_unhinted_nulls(row: dict, hints: dict) -> dict:
    """dlt creates no column for a value it has only seen as null (and warns about each); a
    custom field null on every row of a pass is simply left out until it has a value."""
    return {k: v for k, v in row.items() if v is not None or k.lower() in hints}


def _crm_rows(item: Rows, stream: str) -> list[dict]:
    _, datetimes, dates = CRM[stream]
    hints = LEAD_TYPES if stream == "leads" else DEAL_TYPES
    rows = []
    for raw in item.rows:
        record = _without_unhinted_nulls(clean_crm_record(raw, datetimes, dates), hints)
        record["observed_at"] = datetime.fromtimestamp(item.observed_at, UTC)
        if stream == "deals":
            record["is_recurring_template"] = raw.get("IS_RECURRING") == "Y"
        rows.append(record)
    return rows


def _versions(rows: list[dict], item: Rows) -> list[dict]:
    for row, raw, digest in zip(rows, item.rows, item.hashes, strict=True):
        row["version_key"] = version_key(raw, digest)
    return rows


def _table(name: str, stream: str, rows_of, doc: str, **hints):
    """A table of the pass: the rows of one stream, shaped by `rows_of`."""

    @dlt.transformer(name=name, write_disposition="merge", **hints)
    def resource(item: Rows):
        if item.stream == stream:
            yield rows_of(item)
        elif item.stream == ALL_TABLES:
            yield dlt.mark.materialize_table_schema()

    resource.__doc__ = doc
    return resource


def _history_table(stream: str):
    _, stage_field = HISTORY[stream]
    return lambda item: [clean_history_item(r, stage_field) for r in item.rows]


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
        lambda item: [_without_unhinted_nulls(r, DICTIONARY_TYPES[name]) for r in item.rows],
        f"The portal's {name.replace('_', ' ')}; removed entries kept, flagged.",
        primary_key=DICTIONARY_KEYS[name].lower(),
        columns=_columns({**DICTIONARY_TYPES[name], "is_deleted": "bool"}),
    )


def _rate(text) -> Decimal | None:
    """A currency's `AMOUNT` or `AMOUNT_CNT` as a positive number; None for anything else (the
    staging model flags a currency without a usable rate instead of failing the pass)."""
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() and value > 0 else None


def _currency_rows(item: Rows) -> list[dict]:
    observed = datetime.fromtimestamp(item.observed_at, UTC)
    return [
        {
            "currency": row["CURRENCY"],
            "amount": _rate(row.get("AMOUNT")),
            "amount_cnt": _rate(row.get("AMOUNT_CNT")),
            "base": row.get("BASE"),
            "full_name": row.get("FULL_NAME"),
            "is_deleted": row.get("is_deleted", False),
            "observed_at": observed,
        }
        for row in item.rows
    ]


# Every version of the currency dictionary a pass saw (a new row when anything about a currency
# changed), so a deal's amount converts at the rate the portal held when the deal was read.
currency_rates = _table(
    "currency_rates",
    "currencies",
    _currency_rows,
    "Each currency's rate to the base currency as the passes saw it: AMOUNT_CNT units cost"
    " AMOUNT of the base currency (BASE = 'Y') from `observed_at` on.",
    primary_key=["currency", "observed_at"],
    columns=_columns({
        "currency": "text", "amount": "decimal", "amount_cnt": "decimal", "base": "text",
        "full_name": "text", "is_deleted": "bool", "observed_at": "timestamp",
    }),
)

# Filled by `reconcile`; created with the other tables so dbt finds it before a first reconcile.
deleted_records = _table(
    "deleted_records",
    "deleted_records",
    lambda item: item.rows,
    "One row per lead or deal ever found missing: `is_deleted`, and when it was noticed.",
    primary_key=["entity", "id"],
    columns={name: dict(hint) for name, hint in settings.DELETED_RECORDS_COLUMNS.items()},
)

def _related(stream: str, types: dict, integers, datetimes, dates, doc: str):
    """A table of a RELATED stream: current state, one row per ID."""

    def rows_of(item: Rows) -> list[dict]:
        observed = datetime.fromtimestamp(item.observed_at, UTC)
        return [
            {
                **_without_unhinted_nulls(
                    clean_crm_record(raw, datetimes, dates, integers, money=()), types
                ),
                "observed_at": observed,
            }
            for raw in item.rows
        ]

    return _table(stream, stream, rows_of, doc, primary_key="id", columns=_columns(types))


contacts = _related(
    "contacts",
    _types(settings.CONTACT_TEXTS, settings.CONTACT_INTEGERS, settings.CONTACT_DATETIMES,
           settings.CONTACT_DATES, money=()),
    settings.CONTACT_INTEGERS,
    settings.CONTACT_DATETIMES,
    settings.CONTACT_DATES,
    "Current state of every contact (the customer behind leads and deals).",
)
activities = _related(
    "activities",
    _types(settings.ACTIVITY_TEXTS, settings.ACTIVITY_INTEGERS, settings.ACTIVITY_DATETIMES,
           (), money=()),
    settings.ACTIVITY_INTEGERS,
    settings.ACTIVITY_DATETIMES,
    (),
    "Current state of every activity (call, chat, e-mail, meeting) bound to a CRM record.",
)
deal_products = _table(
    "deal_products",
    "deal_products",
    lambda item: [
        {**row, "observed_at": datetime.fromtimestamp(item.observed_at, UTC)} for row in item.rows
    ],
    "The product rows of every deal as last read: one JSON list a deal, [] when it has none.",
    primary_key="deal_id",
    columns=_columns({"deal_id": "bigint", "product_rows": "json", "observed_at": "timestamp"}),
)

statuses = _dictionary("statuses")
deal_categories = _dictionary("deal_categories")
users = _dictionary("users")
departments = _dictionary("departments")
