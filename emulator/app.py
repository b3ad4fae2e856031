"""HTTP face of the emulated portal: the REST routes and the `/_emulator/` control routes.

Starlette (ASGI, served by uvicorn) because both already come with the Dagster stack, are well
kept, and give async handlers: a `slow` fault sleeps without holding other clients up, while the
store runs on the one event-loop thread, so it needs no locks.

API facts relied on (reference §1):
- webhook URLs are `/rest/<user_id>/<secret>/<method>[.json]`; a wrong user or secret answers
  `INVALID_CREDENTIALS` (401 by the source, 403 by the docs: `auth_error_status` picks), no auth
  at all `NO_AUTH_FOUND` 401, a token without the user ID or an unknown method
  `ERROR_METHOD_NOT_FOUND` 404 "Method not found!";
- GET and POST; query string and body are merged; JSON, form and multipart bodies are read, and
  a malformed JSON body counts as empty;
- answers are `application/json; charset=utf-8`.

The secret is never logged: access lines show the path with the secret replaced by `***`.
"""

import asyncio
import logging
import time
from urllib.parse import quote_plus, unquote

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .faults import FaultSpecError
from .methods import RestError
from .phpquery import parse_qs_php
from .portal import Portal
from .query import resolve_select, row_encoder
from .store import NotFound

log = logging.getLogger("emulator")

_HTML_ERROR = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    "</center><hr><center>nginx</center></body></html>"
)


class ConnectionDropped(Exception):
    """Raised after a partial answer so the server closes the connection mid-response."""


class JSON(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content) -> bytes:
        return orjson.dumps(content)


class DroppedResponse(Response):
    """Starts an answer, sends part of it, then lets the connection die."""

    async def __call__(self, scope, receive, send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"result": [', "more_body": True})
        raise ConnectionDropped


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped) and not (
            exc is not None and isinstance(exc.__cause__ or exc.__context__, ConnectionDropped)
        )


def error_response(exc: RestError) -> JSON:
    return JSON(exc.body(), status_code=exc.status)


async def read_params(request: Request) -> dict:
    params = parse_qs_php(request.url.query)
    if request.method != "POST":
        return params
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if not body.strip():
        return params
    if content_type == "application/json":
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = {}
        if isinstance(data, dict):
            params.update(data)
    elif content_type == "multipart/form-data":
        form = await request.form()
        query = "&".join(f"{quote_plus(k)}={quote_plus(str(v))}" for k, v in form.multi_items())
        params.update(parse_qs_php(query))
    else:
        params.update(parse_qs_php(body.decode("utf-8", "replace")))
    return params


def create_app(portal: Portal, live=None) -> Starlette:
    access = logging.getLogger("emulator.access")

    def redact(text: str) -> str:
        return text.replace(portal.secret, "***") if portal.secret else text

    async def rest(request: Request) -> Response:
        path = unquote(request.path_params["path"])
        segments = [s for s in path.split("/") if s]
        method = segments[-1].lower().removesuffix(".json") if segments else ""
        stats = portal.stats
        stats.http_requests += 1
        stats.http_by_method[method] += 1
        access.info("%s /rest/%s", request.method, redact(path))
        try:
            response = await _serve(request, segments, method)
        except RestError as exc:
            stats.errors[exc.code or exc.description] += 1
            return error_response(exc)
        return response

    async def _serve(request: Request, segments: list[str], method: str) -> Response:
        if not portal.bucket.admit():
            raise RestError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)
        params = await read_params(request)
        if len(segments) == 1:
            if not any(str(k).lower() in ("auth", "access_token") for k in params) and not (
                request.headers.get("authorization")
            ):
                raise RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)
            raise RestError("invalid_token", "Unable to authorize user", 401)
        if len(segments) != 3:
            raise RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)
        user, secret = segments[0], segments[1]
        if secret != portal.secret or user != str(portal.user_id):
            raise RestError(
                "INVALID_CREDENTIALS",
                "Invalid request credentials",
                int(portal.options["auth_error_status"]),
            )
        fault = portal.faults.take(method, transport=True)
        if fault is not None:
            portal.stats.faults_injected[fault.kind] += 1
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay_seconds)
            elif fault.kind == "http_500":
                raise RestError("INTERNAL_SERVER_ERROR", "Internal server error", 500)
            elif fault.kind == "html":
                return HTMLResponse(_HTML_ERROR, status_code=502)
            elif fault.kind == "drop":
                return DroppedResponse()
        started = portal.clock.now()
        perf_start = time.perf_counter()
        if method == "batch":
            portal.stats.calls_by_method["batch"] += 1
            body = {"result": portal.batch(params)}
            body["time"] = portal.time_block(started, perf_start, None)
            return JSON(body)
        reply, block = portal.call(method, params)
        body = {"result": reply.result}
        if reply.next is not None:
            body["next"] = reply.next
        if reply.total is not None:
            body["total"] = reply.total
        body["time"] = block
        return JSON(body)

    # -- control routes ----------------------------------------------------------------------
    async def body_of(request: Request) -> dict:
        raw = await request.body()
        if not raw.strip():
            return {}
        data = orjson.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    def control(handler):
        async def endpoint(request: Request) -> Response:
            try:
                return JSON(await handler(request))
            except (ValueError, KeyError, TypeError, FaultSpecError) as exc:
                return JSON({"error": "BAD_REQUEST", "error_description": str(exc)}, 400)

        return endpoint

    async def clock(request: Request) -> dict:
        if request.method == "POST":
            data = await body_of(request)
            if "set" in data:
                ts = portal.clock.parse(data["set"])
                if ts is None:
                    raise ValueError("'set' must be an ISO 8601 datetime")
                portal.clock.set(ts, frozen=bool(data.get("frozen", False)))
            elif "advance_seconds" in data:
                portal.clock.advance(float(data["advance_seconds"]))
            elif data.get("real"):
                portal.clock.reset()
            else:
                raise ValueError("expected 'set', 'advance_seconds' or 'real'")
        now = portal.clock.now()
        return {
            "now": portal.clock.format(now),
            "unix": now,
            "frozen": portal.clock.frozen,
            "timezone": portal.clock.timezone,
        }

    async def reset(request: Request) -> dict:
        from .datasets import load_dataset

        data = await body_of(request)
        dataset = data.get("dataset", "empty")
        if live is not None:
            live.stop()
        summary = load_dataset(
            portal, dataset, scale=float(data.get("scale", 1.0)), seed=int(data.get("seed", 42))
        )
        return {"dataset": dataset, **summary}

    async def faults(request: Request) -> dict:
        if request.method == "POST":
            data = await body_of(request)
            specs = data.get("faults", [data] if "kind" in data else [])
            portal.faults.add(specs, seed=data.get("seed"))
        elif request.method == "DELETE":
            portal.faults.clear()
        return {"faults": [f.as_dict() for f in portal.faults.rules]}

    async def stats(request: Request) -> dict:
        if request.method == "DELETE":
            portal.stats = type(portal.stats)()
        return portal.stats.as_dict()

    async def config(request: Request) -> dict:
        if request.method == "POST":
            apply_config(portal, await body_of(request))
        return describe_config(portal)

    async def live_route(request: Request) -> dict:
        if live is None:
            raise ValueError("live activity is not available")
        if request.method == "POST":
            data = await body_of(request)
            if data.get("enabled", True):
                live.start(float(data.get("interval_seconds", live.interval)))
            else:
                live.stop()
        return live.describe()

    async def records(request: Request) -> dict:
        """Every row of a table in the wire encoding: the ground truth tests compare with."""
        name = request.path_params["entity"]
        if name not in ("lead", "deal", "lead_history", "deal_history", "user", "status"):
            raise ValueError(f"unknown entity {name!r}")
        entity = portal.store.entity(name)
        columns = resolve_select(entity, [f.name for f in entity.fields] + ["UF_*"])
        cols_sql, encode = row_encoder(columns, portal.clock)
        rows = portal.store.select(entity, cols_sql, "1", [], 'ORDER BY "ID"')
        return {"entity": name, "count": len(rows), "records": [encode(r) for r in rows]}

    async def repair(request: Request) -> dict:
        """Change a lead or deal behind the REST API, as a database fix would: no DATE_MODIFY
        bump, so only a backfill (not an incremental pass) finds the change."""
        name = request.path_params["entity"]
        if name not in ("lead", "deal"):
            raise ValueError(f"unknown entity {name!r}")
        record_id = int(request.path_params["id"])
        if not portal.store.exists(name, record_id):
            raise ValueError(f"no {name} {record_id}")
        fields = (await body_of(request)).get("fields") or {}
        portal.store.update_crm(name, record_id, fields, user_id=1, touch=False)
        return {"entity": name, "id": record_id, "fields": sorted(fields)}

    async def restore(request: Request) -> dict:
        """Restore a deleted lead or deal from the recycle bin (Корзина), as a user does in the
        portal's UI (there is no REST method for it): same ID, fields and history."""
        name = request.path_params["entity"]
        if name not in ("lead", "deal"):
            raise ValueError(f"unknown entity {name!r}")
        record_id = int(request.path_params["id"])
        try:
            portal.store.restore_crm(name, record_id)
        except NotFound:
            raise ValueError(f"no {name} {record_id} in the recycle bin") from None
        return {"entity": name, "id": record_id, "restored": True}

    async def health(request: Request) -> dict:
        return {
            "ok": True,
            "dataset": portal.dataset,
            "counts": {
                name: portal.store.table_count(name)
                for name in ("lead", "deal", "lead_history", "deal_history", "user", "status")
            },
        }

    routes = [
        Route("/rest/{path:path}", rest, methods=["GET", "POST"]),
        Route("/_emulator/clock", control(clock), methods=["GET", "POST"]),
        Route("/_emulator/reset", control(reset), methods=["POST"]),
        Route("/_emulator/faults", control(faults), methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/stats", control(stats), methods=["GET", "DELETE"]),
        Route("/_emulator/config", control(config), methods=["GET", "POST"]),
        Route("/_emulator/live", control(live_route), methods=["GET", "POST"]),
        Route("/_emulator/health", control(health), methods=["GET"]),
        Route("/_emulator/records/{entity}", control(records), methods=["GET"]),
        Route("/_emulator/repair/{entity}/{id:int}", control(repair), methods=["POST"]),
        Route("/_emulator/recyclebin/{entity}/{id:int}", control(restore), methods=["POST"]),
    ]
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    return Starlette(routes=routes)


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
