"""Outbound events, sent as a portal sends them (docs/bitrix24-api.md §8, `api-reference/events/`).

`event.bind {event, handler}` registers a handler URL for an event; `event.get` lists the
bindings; `event.unbind {event?, handler?}` removes the matching ones and returns `{count}`.
A lead or deal added, updated or deleted (through the REST API or by live activity; not a repair
behind the API, which a portal does not announce either) fires `ONCRM<LEAD|DEAL><ADD|UPDATE|
DELETE>`: each handler bound to it gets one POST, `application/x-www-form-urlencoded`, with
`event`, `event_handler_id`, `data[FIELDS][ID]`, `ts` and the `auth[...]` block an outgoing
webhook receives (`domain`, `client_endpoint`, `server_endpoint`, `member_id`,
`application_token`). The handler verifies `auth[application_token]`.

Delivery is asynchronous, through a queue drained by one thread, and has **no retries**: a
handler that is down or answers an error loses that event, as on a portal; the failure is
counted in `/_emulator/events`.

A liberty taken: a real portal takes `event.bind` only in an application's context, and a
webhook-only integration configures the same handler as an *outgoing webhook* in the portal's UI.
The emulator has one credential, so its webhook may call `event.bind` and stands in for both.
Offline events (`event_type=offline`, `event.offline.*`) are not emulated.
"""

import logging
import queue
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass

import requests

from emulator.methods.calls import RestError

log = logging.getLogger("emulator.portal.events")

ACTIONS = ("ADD", "UPDATE", "DELETE")
EVENTS = frozenset(f"ONCRM{entity}{action}" for entity in ("LEAD", "DEAL") for action in ACTIONS)
DELIVERY_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Binding:
    handler_id: int
    event: str
    handler: str

    def as_dict(self) -> dict:
        return {"event": self.event, "handler": self.handler, "auth_type": "0", "offline": 0}


class Events:
    """The portal's bindings and its delivery queue."""

    def __init__(self, domain: str = "emulator.bitrix24.local") -> None:
        self.domain = domain
        self.application_token = secrets.token_hex(16)
        self.member_id = secrets.token_hex(16)
        self.bindings: list[Binding] = []
        self.counts: Counter = Counter()  # queued, delivered, failed
        self._next_id = 1
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._session = requests.Session()
        threading.Thread(target=self._deliver, name="emulator-events", daemon=True).start()

    # -- bindings ----------------------------------------------------------------------------
    def bind(self, event: str, handler: str) -> None:
        event = event.upper()
        if event not in EVENTS:
            raise RestError("ERROR_EVENT_NOT_FOUND", "Event not found")
        if not handler.startswith(("http://", "https://")):
            raise RestError("ERROR_HANDLER_URL", "Handler URL must be http(s)")
        with self._lock:
            if any(b.event == event and b.handler == handler for b in self.bindings):
                raise RestError("ERROR_EVENT_ALREADY_INSTALLED", "Handler already binded")
            self.bindings.append(Binding(self._next_id, event, handler))
            self._next_id += 1

    def unbind(self, event: str | None, handler: str | None) -> int:
        def matches(b: Binding) -> bool:
            return (not event or b.event == event.upper()) and (not handler or b.handler == handler)

        with self._lock:
            kept = [b for b in self.bindings if not matches(b)]
            removed = len(self.bindings) - len(kept)
            self.bindings = kept
        return removed

    def clear(self) -> None:
        with self._lock:
            self.bindings = []
        self.counts.clear()

    # -- firing ------------------------------------------------------------------------------
    def fire(self, entity_name: str, action: str, record_id: int) -> None:
        """A lead or deal changed: queue one POST per handler bound to the event."""
        event = f"ONCRM{entity_name.upper()}{action}"
        with self._lock:
            targets = [b for b in self.bindings if b.event == event]
        for binding in targets:
            self.counts["queued"] += 1
            self._queue.put((binding, self._body(binding, record_id)))

    def _body(self, binding: Binding, record_id: int) -> dict:
        return {
            "event": binding.event,
            "event_handler_id": str(binding.handler_id),
            "data[FIELDS][ID]": str(record_id),
            "ts": str(int(time.time())),
            "auth[domain]": self.domain,
            "auth[client_endpoint]": f"https://{self.domain}/rest/",
            "auth[server_endpoint]": "https://oauth.bitrix.info/rest/",
            "auth[member_id]": self.member_id,
            "auth[application_token]": self.application_token,
        }

    def _deliver(self) -> None:
        while True:
            binding, body = self._queue.get()
            try:
                answer = self._session.post(
                    binding.handler, data=body, timeout=DELIVERY_TIMEOUT_SECONDS
                )
                ok = answer.status_code < 400
            except requests.RequestException as exc:
                log.info("event %s to %s not delivered: %s", binding.event, binding.handler, exc)
                ok = False
            self.counts["delivered" if ok else "failed"] += 1
            self._queue.task_done()

    def describe(self) -> dict:
        return {
            "application_token": self.application_token,
            "bindings": [{"id": b.handler_id, **b.as_dict()} for b in self.bindings],
            "pending": self._queue.unfinished_tasks,
            **{k: self.counts[k] for k in ("queued", "delivered", "failed")},
        }
