"""Pure transforms of the Bitrix24 source: query strings, value parsing, record flags.

API facts relied on (docs/bitrix24-api.md §5, §10): legacy lists send IDs and amounts as strings,
datetimes as `YYYY-MM-DDThh:mm:ss±hh:mm` and `""` when empty, date-only fields as a datetime whose
time part is the UTC offset (only the date part is meant); batch commands are `method?query` with
PHP bracket notation.
"""

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

import orjson

from . import settings


def php_query(params: Mapping, prefix: str = "") -> str:
    """`{"filter": {">ID": 5}}` → `filter[%3EID]=5`, as PHP's http_build_query writes it."""
    parts: list[str] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            parts.append(php_query(value, name))
        elif isinstance(value, (list, tuple)):
            parts.append(php_query({str(i): v for i, v in enumerate(value)}, name))
        else:
            if isinstance(value, bool):
                value = "Y" if value else "N"
            encoded = quote(str(value), safe="$[]")  # keep `$result[...]` references readable
            parts.append(f"{quote(name, safe='[]')}={encoded}")
    return "&".join(p for p in parts if p)


def command(method: str, params: Mapping) -> str:
    return f"{method}?{php_query(params)}"


def parse_datetime(value) -> datetime | None:
    """A portal datetime → aware UTC datetime; None for empty; ValueError when unreadable."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a datetime: {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"datetime without offset: {value!r}")
    return parsed.astimezone(UTC)


def parse_date(value) -> date | None:
    """A portal date (sent as a datetime with the offset-as-time quirk) → its date part."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    return date.fromisoformat(value[:10])


def parse_money(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not a number: {value!r}")
    return amount


def parse_int(value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not an integer: {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.lstrip("-").isdigit():
        raise ValueError(f"not an integer: {value!r}")
    return int(text)


def clean_crm_record(
    raw: Mapping,
    datetimes: Iterable[str],
    dates: Iterable[str],
    integers: Iterable[str] = settings.INTEGERS,
    money: Iterable[str] = settings.MONEY,
) -> dict:
    """A record as loaded (a lead or deal by default; a contact or an activity with its own
    field sets): typed where the value parses, the raw text kept where it does not, and
    `bad_values` naming every field that did not parse (None when all did).

    The record's ID must parse: without it the row cannot be keyed, and the caller treats the
    page as malformed."""
    record = dict(raw)
    bad: dict[str, object] = {}
    record["ID"] = parse_int(raw.get("ID"))
    if record["ID"] is None:
        raise ValueError("record without ID")
    for name in integers:
        if name in raw and name != "ID":
            record[name] = _parsed(parse_int, raw, name, bad)
    for name in datetimes:
        if name in raw:
            record[name] = _parsed(parse_datetime, raw, name, bad)
            if record[name] is None and name in settings.REQUIRED_DATETIMES and name not in bad:
                bad[name] = raw.get(name)
    for name in dates:
        if name in raw:
            record[name] = _parsed(parse_date, raw, name, bad)
    for name in money:
        if name in raw:
            record[name] = _parsed(parse_money, raw, name, bad)
    record["bad_values"] = bad or None
    return record


def _parsed(parse, raw: Mapping, name: str, bad: dict):
    try:
        return parse(raw.get(name))
    except (ValueError, TypeError):
        bad[name] = raw.get(name)
        return None


def clean_history_item(raw: Mapping, stage_field: str) -> dict:
    """A stage-history item: portals send ints (current docs) or strings (older); both load."""
    item = {
        "ID": parse_int(raw.get("ID")),
        "TYPE_ID": parse_int(raw.get("TYPE_ID")),
        "OWNER_ID": parse_int(raw.get("OWNER_ID")),
        "CREATED_TIME": parse_datetime(raw.get("CREATED_TIME")),
        stage_field: raw.get(stage_field),
    }
    semantic = "STATUS_SEMANTIC_ID" if stage_field == "STATUS_ID" else "STAGE_SEMANTIC_ID"
    item[semantic] = raw.get(semantic)
    if "CATEGORY_ID" in raw:
        item["CATEGORY_ID"] = parse_int(raw.get("CATEGORY_ID"))
    if item["ID"] is None or item["OWNER_ID"] is None:
        raise ValueError("stage-history item without ID or OWNER_ID")
    return item


def row_hash(row: Mapping) -> str:
    return hashlib.blake2b(
        orjson.dumps(row, option=orjson.OPT_SORT_KEYS), digest_size=12
    ).hexdigest()


def version_key(raw: dict, digest: str) -> str:
    """A version of a lead or deal: its ID, DATE_MODIFY as the portal wrote it, content hash."""
    return f"{raw.get('ID')}@{raw.get('DATE_MODIFY')}#{digest}"
