"""The portal behind the HTTP layer: method dispatch, `batch`, limits and request statistics.

API facts relied on (docs/bitrix24-api.md §1.3, §3, §4):
- the success envelope is `{"result", ["total"], ["next"], "time": {start, finish, duration,
  processing, date_start, date_finish[, operating_reset_at, operating]}}`; `operating*` only when
  the operating-time limiter is on;
- `batch` runs up to 50 `"method?query"` commands (a map or a list); commands past 50 fail with
  `ERROR_BATCH_LENGTH_EXCEEDED`, a nested batch with `ERROR_BATCH_METHOD_NOT_ALLOWED`; `halt`
  stops at the first failure; `$result[cmd][path]` (and `$next`, `$total`, `$time`, `$error`)
  refer to earlier commands, resolved as PHP's `CRestUtil::processBatchElement` does (a missing
  path element stops the walk at the last value found; a whole-value reference may insert an
  array); each of the five result maps is a PHP array, so an empty one is `[]`;
- a batch is one request for the leaky bucket, but each command is charged to its own method's
  operating time.
"""

import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from emulator.methods.calls import Call, Reply, RestError
from emulator.methods.crm import METHODS as CRM_METHODS
from emulator.methods.dictionaries import METHODS as DICTIONARY_METHODS
from emulator.methods.events import EVENT_METHODS
from emulator.methods.items import METHODS as ITEM_METHODS
from emulator.methods.reference import METHODS as REFERENCE_METHODS
from emulator.methods.relations import METHODS as RELATION_METHODS
from emulator.portal.events import Events
from emulator.portal.faults import Faults
from emulator.portal.limits import LeakyBucket, OperatingBudget
from emulator.portal.phpquery import parse_qs_php
from emulator.store.clock import PortalClock
from emulator.store.store import Store

BATCH_MAX = 50
# What `/_emulator/config` can change. `scopes`: the webhook's scopes (None = every scope);
# `crm_access`: whether the webhook's user has CRM rights at all.
DEFAULT_OPTIONS = {
    "auth_error_status": 401,
    "stagehistory_legacy_strings": False,
    "scopes": None,
    "crm_access": True,
}
# Methods of the D7 controllers answer permission errors with a code; the legacy ones with "".
_CONTROLLER_PREFIXES = ("crm.item.", "crm.stagehistory.", "crm.category.")
_REF = re.compile(r"\$(result|next|total|time|error)(\S*)", re.IGNORECASE)
_REF_PATH = re.compile(r"\[([^\]]+)\]")


HANDLERS = {**CRM_METHODS, **DICTIONARY_METHODS, **ITEM_METHODS, **REFERENCE_METHODS,
            **RELATION_METHODS, **EVENT_METHODS}


def php_array(mapping: dict):
    """How PHP's json_encode prints an array: `[]` when empty, a list when keyed 0..n-1."""
    if not mapping:
        return []
    if all(str(k).isdigit() for k in mapping) and [int(k) for k in mapping] == list(
        range(len(mapping))
    ):
        return list(mapping.values())
    return mapping


@dataclass
class Stats:
    http_requests: int = 0
    http_by_method: Counter = field(default_factory=Counter)
    calls_by_method: Counter = field(default_factory=Counter)
    rows_returned: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    faults_injected: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "http_requests": self.http_requests,
            "http_by_method": dict(self.http_by_method),
            "calls": sum(self.calls_by_method.values()),
            "calls_by_method": dict(self.calls_by_method),
            "rows_returned": dict(self.rows_returned),
            "rows_returned_total": sum(self.rows_returned.values()),
            "errors": dict(self.errors),
            "faults_injected": dict(self.faults_injected),
        }


class Portal:
    def __init__(self, secret: str, timezone: str = "Europe/Moscow", user_id: int = 1) -> None:
        self.secret = secret
        self.user_id = user_id
        self.clock = PortalClock(timezone)
        self.store = Store(self.clock)
        self.events = Events()
        self.store.on_change = self.events.fire
        self.bucket = LeakyBucket()
        self.budget = OperatingBudget()
        self.faults = Faults()
        self.stats = Stats()
        self.options: dict = dict(DEFAULT_OPTIONS)
        self.dataset = "empty"
        self.model = None  # the company model live activity follows (set by load_dataset)

    # -- one method call ---------------------------------------------------------------------
    def time_block(
        self, started: float, arrived: float, processing: float, method: str | None
    ) -> dict:
        """`duration` is the whole request from its arrival (`perf_counter` then); `processing`
        the method's own work, as a portal measures them."""
        finished = self.clock.now()
        block = {
            "start": started,
            "finish": finished,
            "duration": time.perf_counter() - arrived,
            "processing": processing,
            "date_start": self.clock.format(started),
            "date_finish": self.clock.format(finished),
        }
        if self.budget.enabled and method:
            key = (self.secret, method)
            block["operating_reset_at"] = self.budget.reset_at(key, finished)
            block["operating"] = round(self.budget.operating(key, finished), 6)
        return block

    def call(
        self, method: str, params: Mapping, arrived: float | None = None
    ) -> tuple[Reply, dict]:
        """Run one method (top level, arrived at `arrived`, or inside a batch); raises
        RestError."""
        method = method.lower()
        handler = HANDLERS.get(method)
        if handler is None:
            raise RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)
        self.stats.calls_by_method[method] += 1
        self.check_permission(method)
        self.raise_injected_error(method)
        key = (self.secret, method)
        started, perf_start = self.clock.now(), time.perf_counter()
        if self.budget.blocked(key, started):
            raise RestError(
                "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.", 429
            )
        reply = handler(
            Call(self.store, self.user_id, self.options, self._count_rows, self.events), params
        )
        processing = time.perf_counter() - perf_start
        self.budget.charge(key, processing, started, self.clock.now())
        return reply, self.time_block(
            started, perf_start if arrived is None else arrived, processing, method
        )

    def check_permission(self, method: str) -> None:
        """The webhook's scopes, then its user's CRM rights (docs/bitrix24-api.md §1.5): a method
        outside the scopes is `insufficient_scope` (401 by the portal's source); a CRM method
        called by a user without CRM access is "Access denied." (the legacy methods' empty code,
        400) or `ACCESS_DENIED` (the controllers')."""
        scopes = self.options["scopes"]
        needed = scope_of(method)
        if scopes is not None and needed and not needed & set(scopes):
            raise RestError(
                "insufficient_scope",
                "The request requires higher privileges than provided by the webhook token",
                401,
            )
        if method.startswith("crm.") and not self.options["crm_access"]:
            if method.startswith(_CONTROLLER_PREFIXES):
                raise RestError("ACCESS_DENIED", "Access denied")
            raise RestError("", "Access denied.")

    def raise_injected_error(self, method: str) -> None:
        fault = self.faults.take(method, transport=False)
        if fault is not None:
            self.stats.faults_injected[f"error:{fault.error}"] += 1
            raise RestError(fault.error, fault.error_description, fault.status)

    def _count_rows(self, method: str, n: int) -> None:
        self.stats.rows_returned[method] += n

    # -- batch -------------------------------------------------------------------------------
    def batch(self, params: Mapping) -> dict:
        self.raise_injected_error("batch")  # a refusal of the whole request
        cmd = next((v for k, v in params.items() if str(k).lower() == "cmd"), None)
        halt = str(next((v for k, v in params.items() if str(k).lower() == "halt"), "0"))
        halt_on_error = halt.strip().lower() in ("1", "true", "y")
        if isinstance(cmd, list):
            commands = [(str(i), c) for i, c in enumerate(cmd)]
        elif isinstance(cmd, Mapping):
            commands = [(str(k), c) for k, c in cmd.items()]
        else:
            commands = []
        results: dict = {}
        errors: dict = {}
        totals: dict = {}
        nexts: dict = {}
        times: dict = {}
        refs = {"result": results, "next": nexts, "total": totals, "time": times, "error": errors}
        for index, (key, command) in enumerate(commands):
            if index >= BATCH_MAX:
                errors[key] = {
                    "error": "ERROR_BATCH_LENGTH_EXCEEDED",
                    "error_description": "Max batch length exceeded",
                }
                continue
            method, _, query = str(command).partition("?")
            method = method.strip().lower().removesuffix(".json")
            try:
                if method == "batch":
                    raise RestError(
                        "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage"
                    )
                sub_params = substitute(parse_qs_php(query), refs)
                reply, block = self.call(method, sub_params)
            except RestError as exc:
                self.stats.errors[exc.code or exc.description] += 1
                errors[key] = exc.body()
                if halt_on_error:
                    break
                continue
            results[key] = reply.result
            if reply.total is not None:
                totals[key] = reply.total
            if reply.next is not None:
                nexts[key] = reply.next
            times[key] = block
        return {
            "result": php_array(results),
            "result_error": php_array(errors),
            "result_total": php_array(totals),
            "result_next": php_array(nexts),
            "result_time": php_array(times),
        }


def scope_of(method: str) -> set[str]:
    """The scopes any of which lets a webhook call the method; empty: every webhook may."""
    area = method.split(".", 1)[0]
    if area == "user":
        return {"user", "user_brief", "user_basic"}
    if area in ("crm", "department"):
        return {area}
    return set()


def substitute(node, refs: dict):
    """Resolve `$result[...]`-style references inside parsed batch parameters."""
    if isinstance(node, dict):
        return {substitute(k, refs): substitute(v, refs) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, refs) for v in node]
    if not isinstance(node, str) or "$" not in node:
        return node
    value = node
    for match in _REF.finditer(node):
        target = refs[match.group(1).lower()]
        for segment in _REF_PATH.findall(match.group(2)):
            if isinstance(target, dict) and segment in target:
                target = target[segment]
            elif isinstance(target, list) and segment.isdigit() and int(segment) < len(target):
                target = target[int(segment)]
            else:
                break
        if match.group(0) == node:
            return target
        if isinstance(target, str):
            value = value.replace(match.group(0), target)
        elif isinstance(target, (int, float)) and not isinstance(target, bool):
            value = value.replace(match.group(0), str(target))
    return value
