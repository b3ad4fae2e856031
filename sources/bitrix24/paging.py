"""Reading whole lists in as few requests as possible: the batch/keyset planner.

Pages are 50 rows; `start=-1` skips the count; keyset paging is `order {ID: ASC}` +
`filter {">ID": last}` (never offset paging, which drifts while rows change); inside one batch a
command names the previous page's last ID as `$result[prev][49][ID]`, so a batch reads 2,500
rows of one stream in one request. When a page comes back short, later links of its chain are
ignored, whatever the portal answered for them (docs/bitrix24-api.md §3–4).
"""

import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from . import settings
from .client import BitrixClient
from .errors import BitrixError, BitrixRetryableError
from .helpers import command, parse_datetime


@dataclass
class Stream:
    """One list to read completely: a method, its base parameters and how it pages.

    `keyset` streams page by ID with `start=-1`; `id_filter` says where the `>ID` condition goes
    (`("filter", ">ID")`, or `("FILTER", ">ID")` for user.get, or `(">ID",)` for department.get);
    `order` is how the method is told to sort by ID; `wrapper` the key rows sit under; `id_key`
    the row's ID field (`id` in the camelCase `crm.item.*` answers); `omit` the fields no row
    keeps (customers' personal data, unless the warehouse opts in); `keep`, when given, the
    only fields a row keeps (employees: what names a manager, nothing personal)."""

    name: str
    method: str
    params: dict = field(default_factory=dict)
    keyset: bool = True
    id_filter: tuple = ("filter", ">ID")
    order: dict = field(default_factory=lambda: {"order": {"ID": "ASC"}})
    wrapper: str | None = None
    id_key: str = "ID"
    omit: frozenset = frozenset()  # fields dropped from every row as it is read
    keep: frozenset | None = None  # the only fields every row keeps, when given
    last_id: int = 0
    total: int | None = None
    fetched: int = 0
    done: bool = False

    def params_after(self, last_id) -> dict:
        params = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in self.params.items()}
        params.update(self.order)
        target = params
        for key in self.id_filter[:-1]:
            target = target.setdefault(key, {})
        target[self.id_filter[-1]] = last_id
        return params

    @property
    def pages_left(self) -> int:
        """The pages the next batch asks for: as many as the count predicts, plus the empty page
        that confirms the end when the last of them would be full (it costs no request of its
        own inside the batch). Only a short page ends the stream (`_advance`)."""
        if self.done:
            return 0
        if self.total is None:
            return 1
        remaining = self.total - self.fetched
        if remaining <= 0:  # more rows than counted: records entered the list while it paged
            return 1
        return math.ceil(remaining / settings.PAGE_SIZE) + (remaining % settings.PAGE_SIZE == 0)

    def rows_of(self, result) -> list:
        rows = result.get(self.wrapper) if self.wrapper and isinstance(result, Mapping) else result
        if not isinstance(rows, list):
            raise BitrixRetryableError(
                f"{self.method}: a page is not a list of rows", code="MALFORMED", method=self.method
            )
        if self.omit or self.keep is not None:
            rows = [{k: v for k, v in row.items()
                     if k not in self.omit and (self.keep is None or k in self.keep)}
                    if isinstance(row, Mapping) else row for row in rows]
        return rows


@dataclass
class Page:
    stream: str
    rows: list
    observed_at: float  # portal time (unix seconds) at which the page was read


@dataclass
class Pass:
    """One read of several streams: the portal's `server.time` taken before any row was read
    (a pass's watermark), then the pages, read as they are iterated."""

    server_time: float
    pages: Iterator[Page]

    def __iter__(self) -> Iterator[Page]:
        return self.pages


def read_streams(client: BitrixClient, streams: list[Stream]) -> Pass:
    """Read every stream to its end in as few requests as possible.

    The first request, made here, is one batch holding `server.time` and the first page of
    every stream, counted (`start=0`) so later batches can be filled exactly. Later batches,
    made as the pages are iterated, chain up to 50 keyset pages, shared among the streams still
    open. A stream ends on a short (or empty) page, never on its count: the count plans
    requests, and a full page is always followed by another, so a list of exactly 50 rows costs
    a second request. (Chaining that second page into the first batch would spare it, but its
    link names no row whenever the first page is short, which an ORM list such as
    `crm.stagehistory.list` refuses: an error on the portal for every idle pass.)"""
    first = {"time": "server.time"}
    for s in streams:
        params = s.params_after(s.last_id) if s.keyset else dict(s.params)
        if s.keyset:
            params["start"] = 0
        first[s.name] = command(s.method, params)
    result = client.batch(first)
    return Pass(_unix(result["result"].get("time")), _pages(client, streams, result))


def _pages(client: BitrixClient, streams: list[Stream], result: dict) -> Iterator[Page]:
    observed = _observed(result)
    for s in streams:
        if s.keyset:
            s.total = result.get("result_total", {}).get(s.name)
            yield from _chain(s, [s.name], result, observed)
            continue
        if s.name in result.get("result_next", {}):
            # one page is all a stream without keyset reads; never cut a list short quietly
            raise BitrixError(
                f"{s.method}: the portal answered more than one page, which this list "
                "does not expect; report it with the method's name",
                code="MALFORMED",
                method=s.method,
            )
        s.done = True
        yield Page(s.name, s.rows_of(result["result"].get(s.name, [])), observed)

    while True:
        open_streams = [s for s in streams if not s.done]
        if not open_streams:
            return
        commands: dict[str, str] = {}
        chains: list[tuple[Stream, list[str]]] = []
        slots = settings.BATCH_SIZE
        for s in open_streams:
            if slots == 0:
                break
            n = min(slots, s.pages_left)
            keys = []
            for i in range(n):
                key = f"{s.name}_{i}"
                ref = s.last_id if i == 0 else _ref(keys[-1], s)
                params = s.params_after(ref)
                params["start"] = -1
                commands[key] = command(s.method, params)
                keys.append(key)
            chains.append((s, keys))
            slots -= n
        chained = {key for _, keys in chains for key in keys[1:]}
        result = client.batch(commands, chained=chained)
        observed = _observed(result)
        for s, keys in chains:
            yield from _chain(s, keys, result, observed)


def _chain(s: Stream, keys: list[str], result: dict, observed: float) -> Iterator[Page]:
    """The pages of one stream's chain of commands in a batch answer, up to its end."""
    for key in keys:
        if key in result["result_error"]:
            # a link refused while its chain was still open names a real failure
            raise BitrixError(
                f"{s.method}: {result['result_error'][key]}", code="BATCH", method=s.method
            )
        rows = s.rows_of(result["result"].get(key, []))
        yield from _advance(s, rows, observed)
        if s.done:
            break  # later links of a broken chain name no real ID


def _advance(s: Stream, rows: list, observed: float) -> Iterator[Page]:
    if rows:
        last = rows[-1].get(s.id_key) if isinstance(rows[-1], Mapping) else None
        try:
            last_id = int(last)
        except (TypeError, ValueError):
            raise BitrixRetryableError(
                f"{s.method}: a row without a numeric ID after ID {s.last_id}",
                code="MALFORMED",
                method=s.method,
            ) from None
        if last_id <= s.last_id:
            raise BitrixError(
                f"{s.method}: rows after ID {s.last_id} are not in ID order",
                code="MALFORMED",
                method=s.method,
            )
        s.last_id = last_id
        s.fetched += len(rows)
        yield Page(s.name, rows, observed)
    # Only a short page ends the stream. The count taken on the first page plans how many pages
    # a batch asks for, nothing more: a record edited while the pass pages enters the filtered
    # set ahead of the cursor and takes a place the count had given to another, which would
    # then be left behind the new watermark for good.
    if len(rows) < settings.PAGE_SIZE:
        s.done = True


def _ref(key: str, s: Stream) -> str:
    inner = f"[{s.wrapper}]" if s.wrapper else ""
    return f"$result[{key}]{inner}[{settings.PAGE_SIZE - 1}][{s.id_key}]"


def _unix(value) -> float:
    try:
        parsed = parse_datetime(value)
    except ValueError:
        raise BitrixRetryableError(
            f"server.time: the portal answered {str(value)[:40]!r}, not a time",
            code="MALFORMED", method="server.time",
        ) from None
    if parsed is None:
        raise BitrixRetryableError(
            "server.time: no time in the answer", code="MALFORMED", method="server.time"
        )
    return parsed.timestamp()


def _observed(result: Mapping) -> float:
    t = result.get("time") or {}
    finish = t.get("finish") if isinstance(t, Mapping) else None
    return float(finish) if isinstance(finish, (int, float)) else time.time()
