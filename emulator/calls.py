"""What a REST method handler receives and returns: the `Call` (store, clock, user), its
parameters (names case-insensitive), the `Reply` and the `RestError`; and the one list page of 50
rows every list method answers with (reference §2)."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .encoding import resolve_select, row_encoder
from .query import Entity, build_order, build_where
from .store import Store

PAGE = 50


class RestError(Exception):
    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code, self.description, self.status = code, description, status

    def body(self) -> dict:
        return {"error": self.code, "error_description": self.description}


@dataclass
class Reply:
    result: object
    total: int | None = None
    next: int | None = None


@dataclass
class Call:
    """What a handler may use: the portal and who is calling."""

    store: Store
    user_id: int
    options: dict
    rows_returned: Callable[[str, int], None] = field(default=lambda method, n: None)


def param(params: Mapping, name: str, default=None):
    """A top-level parameter, case-insensitively (`filter`, `FILTER`, `arFilter`)."""
    lowered = name.lower()
    for key, value in params.items():
        k = str(key).lower()
        if k == lowered or k == "ar" + lowered:
            return value
    return default


def int_param(params: Mapping, name: str) -> int | None:
    value = param(params, name)
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def start_of(params: Mapping) -> int:
    start = int_param(params, "start")
    if start is None:
        return 0
    return -1 if start < 0 else start


def list_page(
    call: Call,
    method: str,
    entity: Entity,
    flt,
    order,
    select,
    start: int,
    default_select=("*", "UF_*"),
    encode_row=None,
) -> tuple[list, int | None, int | None]:
    """One 50-row page: (rows, total, next). `start=-1` → no count."""
    store = call.store
    where, args = build_where(entity, flt, store.clock)
    order_sql = build_order(entity, order)
    cols_sql, encode = row_encoder(resolve_select(entity, select, default_select), store.clock)
    if start < 0:
        rows = store.select(entity, cols_sql, where, args, order_sql, PAGE)
        total, nxt = 0, None
    else:
        start -= start % PAGE
        total = store.count(entity, where, args)
        rows = store.select(entity, cols_sql, where, args, order_sql, PAGE, start)
        nxt = start + PAGE if start + PAGE < total else None
    out = [encode(r) for r in rows]
    if encode_row is not None:
        out = [encode_row(r) for r in out]
    call.rows_returned(method, len(out))
    return out, total, nxt
