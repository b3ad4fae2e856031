"""`event.bind`, `event.get`, `event.unbind`: the handlers a portal's outbound events go to
(delivery is the portal's, `emulator.portal.events`)."""

from collections.abc import Mapping

from emulator.methods.calls import Call, Reply, RestError, param


def _text(params: Mapping, name: str) -> str | None:
    value = param(params, name)
    return None if value in (None, "") else str(value)


def _online_only(params: Mapping) -> None:
    if str(param(params, "event_type") or "online").lower() == "offline":
        raise RestError(
            "ACCESS_DENIED",
            "Access denied! Offline events binding requires administrator access rights",
            403,
        )


def event_bind(call: Call, params: Mapping) -> Reply:
    _online_only(params)
    event, handler = _text(params, "event"), _text(params, "handler")
    if event is None:
        raise RestError("ERROR_EVENT_NOT_FOUND", "Event not found")
    if handler is None:
        raise RestError("ERROR_HANDLER_URL", "Handler URL is required")
    call.events.bind(event, handler)
    return Reply(True)


def event_get(call: Call, params: Mapping) -> Reply:
    return Reply([b.as_dict() for b in call.events.bindings])


def event_unbind(call: Call, params: Mapping) -> Reply:
    _online_only(params)
    return Reply({"count": call.events.unbind(_text(params, "event"), _text(params, "handler"))})


EVENT_METHODS = {"event.bind": event_bind, "event.get": event_get, "event.unbind": event_unbind}
