"""List-method parameters → SQL, and stored rows → the legacy wire format.

API facts relied on (docs/bitrix24-api.md §2.1, §10):
- filter keys are `[prefix]FIELD`, prefixes `=` (default), `!`/`!=`, `>`, `>=`, `<`, `<=`, `@` (IN),
  `!@` (NOT IN), `%` (substring LIKE), `=%`/`%=` (LIKE with explicit `%`), `!%` and `!=%`/`!%=`
  (their negations); an array value with `=`/`!` means IN/NOT IN;
- legacy methods (`crm.lead.list`, …) drop a filter key naming an unknown field silently (so a
  typo returns unfiltered rows), and a date value that does not parse makes its condition match
  nothing; LIKE (`%`, `=%`, `%=`) on a `crm_status`, `crm_company` or `crm_contact` field is read
  as an exact match, "to prevent filtration by LIKE due to performance considerations" (the
  portal's `CCrmRestProxyBase::internalizeFilterFields`; `crm/deals/crm-deal-list.md`: "The LIKE
  filter does not work with fields of type crm_status, crm_contact, crm_company");
- ORM methods (`crm.stagehistory.list`) are `strict`: an unknown filter or order field, a value
  that does not fit its field and a direction other than ASC/DESC fail with `FilterError`, which
  the method answers as `INVALID_ARG_VALUE` (`crm/crm-stage-history-list.md`);
- `select` takes `*` (standard non-multiple fields), `UF_*` (custom fields) and names; multiple
  fields come only when named; unknown names are ignored;
- `order` directions are case-insensitive; ties are broken by ID here, so paging is stable.

LIKE is case-insensitive for all letters (MySQL's default collation), not only ASCII as SQLite's.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from emulator.store.clock import PortalClock
from emulator.store.fields import BOOL, DATE, DATETIME, INT, JSON, MONEY, NUM, NUM_DOUBLE, Field

# Longest first, so `!=%` is not read as `!=` + `%FIELD`.
PREFIXES = ("!=%", "!%=", ">=", "<=", "!=", "!@", "=%", "%=", "!%", "@", "%", ">", "<", "=", "!")
_OPS = {
    "": "eq",
    "=": "eq",
    "!": "ne",
    "!=": "ne",
    ">": ">",
    ">=": ">=",
    "<": "<",
    "<=": "<=",
    "@": "in",
    "!@": "not_in",
    "%": "like",
    "=%": "like_raw",
    "%=": "like_raw",
    "!%": "not_like",
    "!=%": "not_like_raw",
    "!%=": "not_like_raw",
}
_NOTHING = "0"
# Field types on which a legacy list method turns LIKE into an exact match.
_NO_LIKE = frozenset({"crm_status", "crm_company", "crm_contact"})


class FilterError(ValueError):
    """A strict method's filter or order names a field or value it does not accept; the message
    is the portal's `INVALID_ARG_VALUE` text."""


def split_key(key: str) -> tuple[str, str]:
    """`'>=DATE_MODIFY'` → `('>=', 'DATE_MODIFY')`."""
    for prefix in PREFIXES:
        if key.startswith(prefix):
            return _OPS[prefix], key[len(prefix) :]
    return "eq", key


@lru_cache(maxsize=256)
def _like_regex(pattern: str) -> re.Pattern:
    parts = (re.escape(p) for p in pattern.split("%"))
    return re.compile("^" + ".*".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def sql_like(value, pattern) -> int:
    """Registered as `bx_like` in SQLite."""
    if value is None or pattern is None:
        return 0
    return 1 if _like_regex(str(pattern)).match(str(value)) else 0


@dataclass(frozen=True)
class Column:
    """A filterable, sortable and selectable column: a standard field or a custom one."""

    name: str
    kind: str
    sql: str  # the SQL expression reading it
    multiple: bool = False
    custom: bool = False
    api_type: str = ""


@dataclass
class Entity:
    """One listable table of the portal."""

    table: str
    fields: tuple[Field, ...]
    has_custom: bool = False
    id_field: str = "ID"
    custom: dict[str, str] = field(default_factory=dict)  # UF name → kind

    def column(self, name: str) -> Column | None:
        f = self._by_name().get(name) or self._by_name().get(name.upper())
        if f is not None:
            return Column(f.name, f.kind, f'"{f.name}"', f.multiple, api_type=f.api_type)
        if self.has_custom:
            uf = name.upper()
            if uf in self.custom:
                return Column(uf, self.custom[uf], f"json_extract(UF, '$.\"{uf}\"')", custom=True)
        return None

    def _by_name(self) -> dict[str, Field]:
        cache = self.__dict__.get("_names")
        if cache is None:
            cache = self.__dict__["_names"] = {f.name: f for f in self.fields}
        return cache


# -- filter -------------------------------------------------------------------------------------


def build_where(
    entity: Entity, flt: Mapping | None, clock: PortalClock, strict: bool = False
) -> tuple[str, list]:
    """SQL condition and parameters for a portal filter (see the module docstring for `strict`)."""
    if not isinstance(flt, Mapping):
        return "1", []
    clauses: list[str] = []
    params: list = []
    for key, value in flt.items():
        op, name = split_key(str(key))
        col = entity.column(name)
        if col is None:
            if strict:
                raise FilterError(f"Invalid filter: field '{name}' is not allowed in filter")
            continue  # legacy methods drop unknown filter keys silently
        if strict:
            _check_values(col, value, clock)
        elif op in ("like", "like_raw") and col.api_type in _NO_LIKE:
            op = "eq"
        sql, args = _condition(col, op, value, clock)
        clauses.append(sql)
        params.extend(args)
    return (" AND ".join(clauses) or "1"), params


def _check_values(col: Column, value, clock: PortalClock) -> None:
    try:
        for v in value if isinstance(value, list) else [value]:
            if v not in (None, ""):
                _coerce(col, v, clock)
    except (TypeError, ValueError):
        raise FilterError(f"Invalid filter: field '{col.name}' has invalid value") from None


INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # what the store's integers hold


def _coerce(col: Column, value, clock: PortalClock):
    """A filter value → the stored representation, or raise ValueError (condition never holds)."""
    if isinstance(value, (dict, list)):
        raise ValueError("not a scalar")
    kind = col.kind
    if kind in (INT, NUM):
        if value in (None, ""):
            raise ValueError("empty")
        try:
            number = int(float(value))
        except OverflowError:  # inf
            raise ValueError("not a number") from None
        if not INT_MIN <= number <= INT_MAX:  # a portal's database compares: nothing matches
            raise ValueError("out of range")
        return number
    if kind == BOOL:
        if isinstance(value, bool):
            return int(value)
        text = str(value).strip().upper()
        return 1 if text in ("Y", "1", "TRUE") else 0
    if kind in (MONEY, NUM_DOUBLE):
        return float(str(value).replace(",", "."))
    if kind == DATETIME:
        ts = clock.parse(value)
        if ts is None:
            raise ValueError("not a date")
        return ts
    if kind == DATE:
        day = clock.parse_date(value)
        if day is None:
            raise ValueError("not a date")
        return day
    if col.custom and kind == "boolean":
        if isinstance(value, bool):
            return int(value)
        return 1 if str(value).strip().upper() in ("Y", "1", "TRUE") else 0
    if col.custom and kind == "double":
        return float(value)
    return "" if value is None else str(value)


def _condition(col: Column, op: str, value, clock: PortalClock) -> tuple[str, list]:
    expr = f"CAST({col.sql} AS REAL)" if col.kind == MONEY else col.sql
    is_list = isinstance(value, list)
    if col.kind == JSON and col.multiple and op in ("eq", "in"):
        values = value if is_list else [value]
        try:
            coerced = [int(v) for v in values]
        except (TypeError, ValueError):
            return _NOTHING, []
        marks = ",".join("?" * len(coerced)) or "NULL"
        return f"EXISTS (SELECT 1 FROM json_each({col.sql}) WHERE value IN ({marks}))", coerced

    if op in ("like", "like_raw", "not_like", "not_like_raw"):
        pattern = "" if value is None else str(value)
        if op in ("like", "not_like"):
            pattern = f"%{pattern}%"
        if op.startswith("not"):
            return f"NOT bx_like({col.sql}, ?)", [pattern]
        return f"bx_like({col.sql}, ?)", [pattern]

    if op in ("eq", "ne") and not is_list and value in (None, "", False) and col.kind != BOOL:
        if op == "eq":
            return f"({col.sql} IS NULL OR {col.sql} = '')", []
        return f"({col.sql} IS NOT NULL AND {col.sql} <> '')", []

    if op == "in" or op == "not_in" or (is_list and op in ("eq", "ne")):
        values = value if is_list else [value]
        coerced = []
        for v in values:
            try:
                coerced.append(_coerce(col, v, clock))
            except (TypeError, ValueError):
                continue
        negate = op in ("not_in", "ne")
        if not coerced:
            return ("1", []) if negate else (_NOTHING, [])
        marks = ",".join("?" * len(coerced))
        if negate:
            return f"({expr} IS NULL OR {expr} NOT IN ({marks}))", coerced
        return f"{expr} IN ({marks})", coerced

    values = value if is_list else [value]
    parts, args = [], []
    for v in values:
        try:
            c = _coerce(col, v, clock)
        except (TypeError, ValueError):
            continue
        if op == "eq":
            parts.append(f"{expr} = ?")
        elif op == "ne":
            parts.append(f"({expr} IS NULL OR {expr} <> ?)")
        else:
            parts.append(f"{expr} {op} ?")
        args.append(c)
    if not parts:
        return _NOTHING, []
    return "(" + " OR ".join(parts) + ")", args


# -- order --------------------------------------------------------------------------------------


def build_order(
    entity: Entity, order: Mapping | None, default: str | None = None, strict: bool = False
) -> str:
    """`ORDER BY` for a portal `order` map; the entity's ID always breaks ties."""
    terms: list[str] = []
    seen: set[str] = set()
    if isinstance(order, Mapping):
        for name, direction in order.items():
            col = entity.column(str(name))
            d = str(direction).strip().upper()
            if strict and col is None:
                raise FilterError(f"Invalid order: field '{name}' is not allowed in order")
            if strict and d not in ("ASC", "DESC"):
                raise FilterError(
                    "Invalid order: allowed sort directions are ASC, DESC."
                    f" But got '{direction}' for field '{name}'"
                )
            if col is None or col.name in seen:
                continue
            seen.add(col.name)
            d = "DESC" if d == "DESC" else "ASC"
            expr = f"CAST({col.sql} AS REAL)" if col.kind == MONEY else col.sql
            terms.append(f"{expr} {d}")
    if not terms and default:
        terms.append(default)
        seen.add(entity.id_field)
    if entity.id_field not in seen:
        terms.append(f'"{entity.id_field}" ASC')
    return "ORDER BY " + ", ".join(terms)
