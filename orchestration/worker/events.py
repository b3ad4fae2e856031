"""The event receiver: the URL a portal's outbound events are POSTed to (an outgoing webhook set
up in the portal's UI, or an application's `event.bind`), which wakes the worker.

A portal POSTs `application/x-www-form-urlencoded`: `event` (`ONCRMLEADADD`, …),
`data[FIELDS][ID]`, `ts` and `auth[...]`, whose `application_token` is the token the portal
showed for the webhook (docs/bitrix24-api.md §8). The URL is public, so anyone can POST to it:
the receiver compares the token with each served portal's own (`main`:
`SOURCES__BITRIX24__APPLICATION_TOKEN`; another: its key in the portal registry's secrets), in
constant time, and refuses anything else with 403. The token is also what routes an event to its
portal: `auth[domain]` and `auth[member_id]` name the sender too, but anyone can write them,
while every portal's outgoing webhook shows a token of its own. An accepted event is answered at
once (the portal's queue lowers the priority of slow handlers and never retries); the worker
does the rest.

An event says only that a record changed; the pass that follows reads what changed. A delete
event also names the record, which the pass checks and marks deleted.
"""

import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

log = logging.getLogger("bitrix_warehouse.events")

PATH = "/bitrix24/events"
ENTITIES = {"LEAD": "leads", "DEAL": "deals"}
ACTIONS = ("ADD", "UPDATE", "DELETE")
MAX_BODY_BYTES = 64 * 1024  # an event is a few hundred bytes
# A portal keys leads and deals with auto-increments of a 4-byte signed integer column (its
# MySQL tables declare `ID int(18)`): nothing above this is a record of a portal.
MAX_RECORD_ID = 2**31 - 1


class Refused(Exception):
    """An event that is not taken; `status` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Event:
    entity: str  # leads | deals
    action: str  # ADD | UPDATE | DELETE
    record_id: int
    portal: str = "main"  # the registered portal that sent it


def record_id(text: str) -> int | None:
    """A record ID as a portal writes one: ASCII digits for 1 … MAX_RECORD_ID; None for anything
    else (`²` and `١٢` pass `str.isdigit`, and Python's `int` reads `١٢` as 12)."""
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_RECORD_ID))):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_RECORD_ID else None


def sender(sent: str, tokens: Mapping[str, str]) -> str | None:
    """The portal whose token `sent` is; every token compared in constant time, so the answer's
    time tells nothing of any token."""
    matched = None
    for portal, token in tokens.items():
        if hmac.compare_digest(sent.encode(), token.encode()):
            matched = portal
    return matched


def parse(body: bytes, tokens: Mapping[str, str]) -> Event:
    """The event in a portal's POST body, once its application token is verified against each
    portal's (`tokens`: portal → token)."""
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    portal = sender(form.get("auth[application_token]", ""), tokens)
    if portal is None:
        raise Refused(403, "wrong or missing application token")
    name = form.get("event", "").upper()
    for code, entity in ENTITIES.items():
        for action in ACTIONS:
            if name == f"ONCRM{code}{action}":
                found = record_id(form.get("data[FIELDS][ID]", ""))
                if found is None:
                    raise Refused(400, f"{name} without a record ID (1 to {MAX_RECORD_ID})")
                return Event(entity, action, found, portal)
    raise Refused(400, f"not a lead or deal event: {name[:40]!r}")


def create_app(
    tokens: Callable[[], Mapping[str, str]], on_event: Callable[[Event], None]
) -> Starlette:
    """`tokens()` gives each served portal's token at the time of a request (a portal added
    while the worker runs is heard at once); `on_event` is called for each verified event and
    must not block."""

    async def receive(request: Request) -> PlainTextResponse:
        body = await request.body()
        try:
            if len(body) > MAX_BODY_BYTES:
                raise Refused(413, "body too large for an event")
            event = parse(body, tokens())
        except Refused as exc:
            log.warning("event refused (%s): %s", exc.status, exc)
            return PlainTextResponse(str(exc), status_code=exc.status)
        try:
            on_event(event)
        except Exception as exc:  # the queue could not take it (a full disk): one line, no trace
            log.error("event not queued: %s: %s", type(exc).__name__, exc)
            return PlainTextResponse("event not queued", status_code=503)
        return PlainTextResponse("ok")

    return Starlette(routes=[Route(PATH, receive, methods=["POST"])])


def serve(
    tokens: Callable[[], Mapping[str, str]], on_event: Callable[[Event], None], host: str,
    port: int,
) -> uvicorn.Server:
    """The receiver on a thread of its own (set `should_exit` to stop it), once it listens."""
    server = uvicorn.Server(uvicorn.Config(
        create_app(tokens, on_event), host=host, port=port, log_level="warning",
        access_log=False, lifespan="off",
    ))
    thread = threading.Thread(target=server.run, name="event-receiver", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise OSError(f"the event receiver could not listen on {host}:{port}")
        time.sleep(0.02)
    return server
