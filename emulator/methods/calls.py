"""What a REST method handler receives and returns: the `Call` (store, clock, user), its
parameters (names case-insensitive), the `Reply` and the `RestError`; and the one list page of 50
rows every list method answers with (docs/bitrix24-api.md §2)."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from emulator.store.encoding import resolve_select, row_encoder
from emulator.store.query import INT_MAX, INT_MIN, Entity, FilterError, build_order, build_where
from emulator.store.store import Store

PAGE = 50
# The CRM object types a portal knows (`crm/data-types.md#object_type`), by their type names.
ENTITY_TYPE_NAMES = {
    1: "LEAD",
    2: "DEAL",
    3: "CONTACT",
    4: "COMPANY",
    7: "QUOTE",
    31: "SMART_INVOICE",
}


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


class Handlers(Protocol):
    """The portal's outbound-event bindings, as the `event.*` methods manage them."""

    bindings: list

    def bind(self, event: str, handler: str) -> None: ...

    def unbind(self, event: str | None, handler: str | None) -> int: ...


@dataclass
class Call:
    """What a handler may use: the portal and who is calling."""

    store: Store
    user_id: int
    options: dict
    rows_returned: Callable[[str, int], None] = field(default=lambda method, n: None)
    events: Handlers | None = None


def param(params: Mapping, name: str, default=None):
    """A top-level parameter, case-insensitively (`filter`, `FILTER`, `arFilter`)."""
    lowered = name.lower()
    for key, value in params.items():
        k = str(key).lower()
        if k == lowered or k == "ar" + lowered:
            return value
    return default


def array_param(params: Mapping, name: str):
    """A parameter PHP must read as an array (`filter`, `order`, `fields`, `params`): absent or
    null → None; a JSON list is an array too; anything else is the legacy methods' 400
    "Parameter 'filter' must be array." (`crm/deals/crm-deal-list.md`, `crm-deal-add.md`)."""
    value = param(params, name)
    if value is None or isinstance(value, Mapping):
        return value
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    raise RestError("", f"Parameter '{name}' must be array.")


def entity_type(params: Mapping, supported: Mapping[int, str]) -> str:
    """The `entityTypeId` parameter → the supported kind. A type the portal has but the method
    does not support is `ENTITY_TYPE_NOT_SUPPORTED` ("Entity type CONTACT is not supported"); a
    missing or unknown one is `NOT_FOUND` "Smart process not found" (`crm-category-list.md`)."""
    type_id = int_param(params, "entityTypeId")
    if type_id in supported:
        return supported[type_id]
    if type_id in ENTITY_TYPE_NAMES:
        name = ENTITY_TYPE_NAMES[type_id]
        raise RestError("ENTITY_TYPE_NOT_SUPPORTED", f"Entity type {name} is not supported")
    raise RestError("NOT_FOUND", "Smart process not found")


def int_param(params: Mapping, name: str) -> int | None:
    """An integer parameter as PHP reads one: ASCII digits (Python's `int` would also take `١٢`),
    within the 64-bit range the store holds; None otherwise."""
    text = str(param(params, name)).strip()
    if not text.isascii():
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if INT_MIN <= value <= INT_MAX else None


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
    strict: bool = False,
) -> tuple[list, int | None, int | None]:
    """One 50-row page: (rows, total, next). `start=-1` → no count. `strict` is an ORM method's
    validation of `filter` and `order` (see `emulator.store.query`)."""
    store = call.store
    try:
        where, args = build_where(entity, flt, store.clock, strict)
        order_sql = build_order(entity, order, strict=strict)
    except FilterError as exc:
        raise RestError("INVALID_ARG_VALUE", str(exc)) from None
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
