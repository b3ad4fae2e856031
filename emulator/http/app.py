"""HTTP face of the emulated portal: the REST routes (the `/_emulator/` control routes are in
`control.py`).

Starlette (ASGI, served by uvicorn) because both already come with the Dagster stack, are well
kept, and give async handlers: a `slow` fault sleeps without holding other clients up, while the
store runs on the one event-loop thread, so it needs no locks.

API facts relied on (docs/bitrix24-api.md §1):
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
from collections.abc import Callable
from urllib.parse import quote_plus, unquote

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from emulator.http.control import JSON, Control
from emulator.methods.calls import RestError
from emulator.portal.phpquery import parse_qs_php
from emulator.portal.portal import Portal

log = logging.getLogger("emulator")

_HTML_ERROR = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    "</center><hr><center>nginx</center></body></html>"
)


class ConnectionDropped(Exception):
    """Raised after a partial answer so the server closes the connection mid-response."""


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


def create_app(portal: Portal, load_dataset: Callable, live=None) -> Starlette:
    access = logging.getLogger("emulator.access")

    def redact(path: str) -> str:
        """A webhook path with its secret segment hidden, whatever the secret (a wrong one is
        someone's real secret, or a typo of the right one)."""
        segments = path.split("/")
        if len(segments) >= 3:
            segments[1] = "***"
        return "/".join(segments)

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
        arrived = time.perf_counter()
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
            elif fault.kind == "answer":
                return JSON(fault.body)
        if method == "batch":
            started, perf_start = portal.clock.now(), time.perf_counter()
            portal.stats.calls_by_method["batch"] += 1
            body = {"result": portal.batch(params)}
            processing = time.perf_counter() - perf_start
            body["time"] = portal.time_block(started, arrived, processing, None)
            return JSON(body)
        reply, block = portal.call(method, params, arrived)
        body = {"result": reply.result}
        if reply.next is not None:
            body["next"] = reply.next
        if reply.total is not None:
            body["total"] = reply.total
        body["time"] = block
        return JSON(body)

    control = Control(portal, load_dataset, live)
    routes = [
        Route("/rest/{path:path}", rest, methods=["GET", "POST"]),
        *control.routes(),
    ]
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    return Starlette(routes=routes)
