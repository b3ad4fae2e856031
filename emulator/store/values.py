r"""How a written value is stored and read back, as a portal does it: a double kept as `"1500.00"`,
dates and datetimes in the portal's zone, flags as Y/N, multi-fields and custom fields as JSON; a
lead's derived flags (HAS_PHONE, IS_RETURN_CUSTOMER…).

An amount is validated as `CCrmDeal::CheckFields` / `CCrmLead::CheckFields` do: in a string,
commas become dots and spaces go, a leading dot gets a zero, and what is left must match
`^-?\d+(\.\d+)?$`, else the write fails; the column is a DECIMAL, so a portal never holds text
such as `"12 500 руб."` there (`crm/deals/crm-deal-fields.md`: OPPORTUNITY is a double).
"""

import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

import orjson

from emulator.store.clock import PortalClock
from emulator.store.fields import (
    BOOL,
    DATE,
    DATETIME,
    FLAG,
    INT,
    JSON,
    MONEY,
    NUM,
    NUM_DOUBLE,
    Field,
)
from emulator.store.query import Entity


def contact_flags(row: dict) -> None:
    """HAS_PHONE / HAS_EMAIL follow the record's multifields."""
    row["HAS_PHONE"] = "Y" if row.get("PHONE") not in (None, "", "[]") else "N"
    row["HAS_EMAIL"] = "Y" if row.get("EMAIL") not in (None, "", "[]") else "N"


def lead_flags(row: dict) -> None:
    contact_flags(row)
    row.setdefault("HAS_IMOL", "N")
    linked = bool(row.get("CONTACT_ID")) or bool(row.get("COMPANY_ID"))
    row["IS_RETURN_CUSTOMER"] = "Y" if linked else "N"


_AMOUNT = re.compile(r"-?\d+(\.\d+)?")


def format_money(value, name: str = "OPPORTUNITY") -> str | None:
    """A double as the portal stores it (`"1500.00"`); raises ValueError for what the portal
    refuses."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = format(Decimal(str(value)), "f")
    else:
        text = str(value).replace(",", ".").replace(" ", "")
        if text.startswith("."):
            text = "0" + text
    if not _AMOUNT.fullmatch(text):
        raise ValueError(f"The field {name} has an invalid value.")
    return str(Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def normalize(
    entity: Entity,
    fields: Mapping | None,
    clock: PortalClock,
    creating: bool,
    raw: bool = False,
    current_uf: str | None = None,
) -> dict:
    """Client `fields` → storable columns. Unknown and read-only fields are dropped as the portal
    does; `raw` (internal callers) keeps read-only ones."""
    out: dict = {}
    if not isinstance(fields, Mapping):
        return out
    custom: dict = {}
    for key, value in fields.items():
        name = str(key).upper() if str(key).upper() != "ID" else "ID"
        f: Field | None = entity._by_name().get(name) or entity._by_name().get(str(key))
        if f is None:
            if entity.has_custom and name in entity.custom:
                custom[name] = custom_value(entity.custom[name], value)
            continue
        if f.name == entity.id_field or (f.read_only and not raw):
            continue
        if f.immutable and not creating:
            continue
        out[f.name] = store_value(f, value, clock)
    if custom:
        bag = orjson.loads(current_uf) if current_uf else {}
        bag.update(custom)
        out["UF"] = orjson.dumps(bag).decode()
    if "CONTACT_IDS" in entity._by_name():
        _link_contacts(out)
    return out


def _link_contacts(out: dict) -> None:
    """The deprecated single CONTACT_ID is the first of CONTACT_IDS, and the other way round."""
    if "CONTACT_IDS" in out and "CONTACT_ID" not in out:
        ids = orjson.loads(out["CONTACT_IDS"])
        out["CONTACT_ID"] = ids[0] if ids else None
    elif "CONTACT_ID" in out and "CONTACT_IDS" not in out:
        out["CONTACT_IDS"] = orjson.dumps([out["CONTACT_ID"]] if out["CONTACT_ID"] else []).decode()


def store_value(f: Field, value, clock: PortalClock):
    kind = f.kind
    if kind in (INT, NUM):
        if value in (None, ""):
            return None
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return None
    if kind == MONEY:
        return format_money(value, f.name)
    if kind == NUM_DOUBLE:
        return None if value in (None, "") else float(format_money(value, f.name))
    if kind == FLAG:
        if isinstance(value, bool):
            return "Y" if value else "N"
        return "Y" if str(value).strip().upper() in ("Y", "1", "TRUE") else "N"
    if kind == BOOL:
        if isinstance(value, bool):
            return int(value)
        return 1 if str(value).strip().upper() in ("Y", "1", "TRUE") else 0
    if kind == DATETIME:
        return clock.parse(value)
    if kind == DATE:
        return clock.parse_date(value)
    if kind == JSON:
        return json_value(f, value)
    return None if value is None else str(value)


def json_value(f: Field, value) -> str:
    if isinstance(value, Mapping):
        value = list(value.values())
    if not isinstance(value, list):
        value = [value]
    if f.api_type == "crm_multifield":
        items = []
        for i, item in enumerate(value, start=1):
            if isinstance(item, Mapping) and item.get("VALUE"):
                items.append(
                    {
                        "ID": str(i),
                        "VALUE_TYPE": str(item.get("VALUE_TYPE") or "WORK"),
                        "VALUE": str(item["VALUE"]),
                        "TYPE_ID": f.name,
                    }
                )
        return orjson.dumps(items).decode()
    return orjson.dumps([int(v) for v in value if str(v).strip().lstrip("-").isdigit()]).decode()


def custom_value(kind: str, value):
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        return str(value).strip().upper() in ("Y", "1", "TRUE")
    if kind == "double":
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    return None if value is None else str(value)
