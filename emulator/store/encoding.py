"""`select` → the columns to read, and stored rows → the legacy wire format
(docs/bitrix24-api.md §2.1):
`*` is the standard non-multiple fields, `UF_*` the custom ones, multiple fields come only when
named, unknown names are ignored; values go out as the portal writes them (strings, `Y`/`N`,
dates in the portal's zone)."""

from collections.abc import Callable, Iterable, Mapping

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
    TEXT,
)
from emulator.store.query import Column, Entity


def resolve_select(entity: Entity, select, default: Iterable[str] = ("*", "UF_*")) -> list[Column]:
    """The columns a `select` asks for, in the entity's field order."""
    names = _names(select) or list(default)
    wanted: list[Column] = []
    star = "*" in names
    uf_star = "UF_*" in names
    explicit = {n.upper() for n in names if n not in ("*", "UF_*")}
    for f in entity.fields:
        if not f.listed:
            continue
        if f.name == entity.id_field or f.name.upper() in explicit or (star and not f.multiple):
            wanted.append(Column(f.name, f.kind, f'"{f.name}"', multiple=f.multiple))
    if entity.has_custom:
        for uf, kind in entity.custom.items():
            if uf_star or uf in explicit:
                wanted.append(Column(uf, kind, "", custom=True))
    return wanted


def _names(select) -> list[str]:
    if isinstance(select, str):
        return [select] if select else []
    if isinstance(select, Mapping):
        select = list(select.values())
    if isinstance(select, list):
        return [str(s) for s in select if isinstance(s, (str, int))]
    return []


def row_encoder(columns: list[Column], clock: PortalClock) -> tuple[str, Callable]:
    """SQL column list and a function turning a fetched tuple into the wire dict."""
    sql_cols: list[str] = []
    plan: list[tuple[str, int, Callable | None]] = []
    custom = [c for c in columns if c.custom]
    for c in columns:
        if c.custom:
            continue
        sql, enc = _encoding(c, clock)
        plan.append((c.name, len(sql_cols), enc))
        sql_cols.append(sql)
    uf_index = len(sql_cols) if custom else -1
    if custom:
        sql_cols.append("UF")
    names = [c.name for c in custom]

    finishers = [(name, i, enc) for name, i, enc in plan if enc is not None]
    keys = [name for name, _, _ in plan]

    def encode(row: tuple) -> dict:
        out = dict(zip(keys, row, strict=False))
        for name, i, enc in finishers:
            out[name] = enc(row[i])
        if uf_index >= 0:
            bag = orjson.loads(row[uf_index]) if row[uf_index] else {}
            for n in names:
                out[n] = bag.get(n)
        return out

    return ", ".join(sql_cols) or "1", encode


def _encoding(col: Column, clock: PortalClock) -> tuple[str, Callable | None]:
    """SQL reading a column and the Python step finishing its wire value. The per-value work is
    pushed into SQLite where it can be (a list page of 50 rows × 60 fields, 50 pages a batch)."""
    kind = col.kind
    if kind == INT:
        return f"CAST({col.sql} AS TEXT)", None
    if kind == DATETIME:
        return clock.sql_format(col.sql), None
    if kind == DATE:
        return col.sql, clock.format_date
    if kind == BOOL:
        return col.sql, lambda v: None if v is None else bool(v)
    if kind == JSON:
        return col.sql, lambda v: orjson.loads(v) if v else []
    if kind in (TEXT, FLAG, MONEY, NUM, NUM_DOUBLE):
        return col.sql, None
    raise ValueError(kind)
