"""The `/_emulator/` control routes: the clock, dataset resets, faults, stats, limits, live
activity, outbound events, ground-truth records, repairs behind the API and the recycle bin.
Tests and benchmarks drive the portal's world through them; a real portal has none of them."""

import os
from collections.abc import Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.portal.faults import FaultSpecError
from emulator.portal.portal import Portal
from emulator.store.encoding import resolve_select, row_encoder
from emulator.store.store import NotFound


class JSON(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content) -> bytes:
        return orjson.dumps(content)


async def _body_of(request: Request) -> dict:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


# What /records and /health show: every table of the portal's CRM and its dictionaries.
_LISTED = (
    "lead",
    "deal",
    "lead_history",
    "deal_history",
    "user",
    "status",
    "contact",
    "company",
    "activity",
    "product_row",
)


class Control:
    """`load_dataset(portal, name, scale=, seed=)` replaces the portal's data (`emulator.data`
    supplies it: this layer serves a portal and knows nothing of what fills it)."""

    def __init__(self, portal: Portal, load_dataset: Callable, live=None) -> None:
        self.portal, self.load_dataset, self.live = portal, load_dataset, live

    def routes(self) -> list[Route]:
        def endpoint(handler):
            async def answer(request: Request) -> Response:
                try:
                    return JSON(await handler(request))
                except (ValueError, KeyError, TypeError, FaultSpecError) as exc:
                    return JSON({"error": "BAD_REQUEST", "error_description": str(exc)}, 400)

            return answer

        return [
            Route(f"/_emulator/{path}", endpoint(handler), methods=methods)
            for path, handler, methods in (
                ("clock", self.clock, ["GET", "POST"]),
                ("reset", self.reset, ["POST"]),
                ("faults", self.faults, ["GET", "POST", "DELETE"]),
                ("stats", self.stats, ["GET", "DELETE"]),
                ("config", self.config, ["GET", "POST"]),
                ("live", self.live_activity, ["GET", "POST"]),
                ("events", self.events, ["GET"]),
                ("health", self.health, ["GET"]),
                ("records/{entity}", self.records, ["GET"]),
                ("repair/{entity}/{id:int}", self.repair, ["POST"]),
                ("recyclebin/{entity}/{id:int}", self.restore, ["POST"]),
            )
        ]

    async def clock(self, request: Request) -> dict:
        if request.method == "POST":
            data = await _body_of(request)
            if "set" in data:
                ts = self.portal.clock.parse(data["set"])
                if ts is None:
                    raise ValueError("'set' must be an ISO 8601 datetime")
                self.portal.clock.set(ts, frozen=bool(data.get("frozen", False)))
            elif "advance_seconds" in data:
                self.portal.clock.advance(float(data["advance_seconds"]))
            elif data.get("real"):
                self.portal.clock.reset()
            else:
                raise ValueError("expected 'set', 'advance_seconds' or 'real'")
        now = self.portal.clock.now()
        return {
            "now": self.portal.clock.format(now),
            "unix": now,
            "frozen": self.portal.clock.frozen,
            "timezone": self.portal.clock.timezone,
        }

    async def reset(self, request: Request) -> dict:
        data = await _body_of(request)
        dataset = data.get("dataset", "empty")
        if self.live is not None:
            self.live.stop()
        scale, seed = float(data.get("scale", 1.0)), int(data.get("seed", 42))
        summary = self.load_dataset(self.portal, dataset, scale=scale, seed=seed)
        return {"dataset": dataset, **summary}

    async def faults(self, request: Request) -> dict:
        if request.method == "POST":
            data = await _body_of(request)
            specs = data.get("faults", [data] if "kind" in data else [])
            self.portal.faults.add(specs, seed=data.get("seed"))
        elif request.method == "DELETE":
            self.portal.faults.clear()
        return {"faults": [f.as_dict() for f in self.portal.faults.rules]}

    async def stats(self, request: Request) -> dict:
        if request.method == "DELETE":
            self.portal.stats = type(self.portal.stats)()
        return self.portal.stats.as_dict()

    async def events(self, request: Request) -> dict:
        """The bindings, the application token a handler verifies, and delivery counts."""
        return self.portal.events.describe()

    async def config(self, request: Request) -> dict:
        if request.method == "POST":
            apply_config(self.portal, await _body_of(request))
        return describe_config(self.portal)

    async def live_activity(self, request: Request) -> dict:
        if self.live is None:
            raise ValueError("live activity is not available")
        if request.method == "POST":
            data = await _body_of(request)
            if data.get("enabled", True):
                self.live.start(float(data.get("interval_seconds", self.live.interval)))
            else:
                self.live.stop()
        return self.live.describe()

    async def records(self, request: Request) -> dict:
        """Every row of a table in the wire encoding: the ground truth tests compare with."""
        name = request.path_params["entity"]
        if name not in _LISTED:
            raise ValueError(f"unknown entity {name!r}")
        entity = self.portal.store.entity(name)
        columns = resolve_select(entity, [f.name for f in entity.fields] + ["UF_*"])
        cols_sql, encode = row_encoder(columns, self.portal.clock)
        rows = self.portal.store.select(entity, cols_sql, "1", [], 'ORDER BY "ID"')
        return {"entity": name, "count": len(rows), "records": [encode(r) for r in rows]}

    async def repair(self, request: Request) -> dict:
        """Change a lead or deal behind the REST API, as a database fix would: no DATE_MODIFY
        bump, so only a backfill (not an incremental pass) finds the change."""
        name = request.path_params["entity"]
        if name not in ("lead", "deal"):
            raise ValueError(f"unknown entity {name!r}")
        record_id = int(request.path_params["id"])
        if not self.portal.store.exists(name, record_id):
            raise ValueError(f"no {name} {record_id}")
        fields = (await _body_of(request)).get("fields") or {}
        self.portal.store.update_crm(name, record_id, fields, user_id=1, touch=False)
        return {"entity": name, "id": record_id, "fields": sorted(fields)}

    async def restore(self, request: Request) -> dict:
        """Restore a deleted lead or deal from the recycle bin (Корзина), as a user does in the
        portal's UI (there is no REST method for it): same ID, fields and history."""
        name = request.path_params["entity"]
        if name not in ("lead", "deal"):
            raise ValueError(f"unknown entity {name!r}")
        record_id = int(request.path_params["id"])
        try:
            self.portal.store.restore_crm(name, record_id)
        except NotFound:
            raise ValueError(f"no {name} {record_id} in the recycle bin") from None
        return {"entity": name, "id": record_id, "restored": True}

    async def health(self, request: Request) -> dict:
        return {
            "ok": True,
            "pid": os.getpid(),  # the launcher's proof that the port is its own child's
            "dataset": self.portal.dataset,
            "counts": {name: self.portal.store.table_count(name) for name in _LISTED},
        }


def apply_config(portal: Portal, data: dict) -> None:
    rate = data.get("rate_limit") or {}
    for key in ("enabled", "rate", "burst"):
        if key in rate:
            setattr(portal.bucket, key, type(getattr(portal.bucket, key))(rate[key]))
    portal.bucket.reset()
    op = data.get("operating_limit") or {}
    if "enabled" in op:
        portal.budget.enabled = bool(op["enabled"])
    if "limit_seconds" in op:
        portal.budget.limit = float(op["limit_seconds"])
    if "cost_scale" in op:
        portal.budget.cost_scale = float(op["cost_scale"])
    if op:
        portal.budget.reset()
    if "auth_error_status" in data:
        status = int(data["auth_error_status"])
        if status not in (401, 403):
            raise ValueError("auth_error_status must be 401 or 403")
        portal.options["auth_error_status"] = status
    if "stagehistory_legacy_strings" in data:
        portal.options["stagehistory_legacy_strings"] = bool(data["stagehistory_legacy_strings"])
    if "scopes" in data:
        scopes = data["scopes"]
        if scopes is not None and not (
            isinstance(scopes, list) and all(isinstance(x, str) for x in scopes)
        ):
            raise ValueError("scopes must be a list of scope names or null (every scope)")
        portal.options["scopes"] = scopes
    if "crm_access" in data:
        portal.options["crm_access"] = bool(data["crm_access"])


def describe_config(portal: Portal) -> dict:
    return {
        "rate_limit": {
            "enabled": portal.bucket.enabled,
            "rate": portal.bucket.rate,
            "burst": portal.bucket.burst,
        },
        "operating_limit": {
            "enabled": portal.budget.enabled,
            "limit_seconds": portal.budget.limit,
            "cost_scale": portal.budget.cost_scale,
        },
        **portal.options,
    }
