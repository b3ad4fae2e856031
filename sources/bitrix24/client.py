"""The Bitrix24 REST protocol, client side: webhook auth, `batch`, ID-keyset paging, the portal's
rate limit, retries, error codes and redaction of the webhook secret. Resources stay short because
everything Bitrix-specific lives here, in `paging.py` (the batch/keyset planner) and in
`webhook.py` (the URL and its redaction).

API facts relied on (docs/bitrix24-api.md §1–4, §10):
- the webhook URL `https://portal/rest/<user>/<secret>/` carries the secret, so every message,
  exception and log line this module produces has it replaced by `***`;
- decide on the `error` code, not the HTTP status: `QUERY_LIMIT_EXCEEDED` (503) is refused before it
  runs and is always retried; `OPERATION_TIME_LIMIT` (429) blocks one method until
  `operating_reset_at`; 5xx, HTML bodies (proxies, the 60 s timeout) and dropped connections are
  retried with backoff — every call made here is a read, so a retry cannot duplicate anything;
  `INVALID_CREDENTIALS`, `NO_AUTH_FOUND`, `expired_token`, `insufficient_scope`, `ACCESS_DENIED`
  and `ERROR_METHOD_NOT_FOUND` are never retried;
- `batch` answers HTTP 200 even when commands fail: their errors are in `result_error`;

Limits: the client-side bucket mirrors the portal's (2 req/s, burst 50); the rate limiter is a
dozen lines because it must match the portal's leaky-bucket semantics exactly (burst, then drain).
Retries use tenacity.
"""

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from . import settings
from .errors import FATAL_CODES, RETRY_CODES, BitrixAuthError, BitrixError, BitrixRetryableError
from .webhook import Webhook, redact_urllib3_logs

log = logging.getLogger(__name__)


class LeakyBucket:
    """Client-side mirror of the portal's bucket: `burst` requests at once, then `rate` a second."""

    # The portal counts a request when it arrives, the client when it leaves, a few
    # milliseconds earlier: keeping one request of headroom absorbs the difference.
    HEADROOM = 1

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate, self.burst = rate, max(1, burst - self.HEADROOM)
        self._clock, self._sleep = clock, sleep
        self._level = 0.0
        self._at = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for room for one request; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._level = max(0.0, self._level - (now - self._at) * self.rate)
            self._at = now
            wait = (
                0.0 if self._level + 1 <= self.burst else (self._level + 1 - self.burst) / self.rate
            )
            if wait > 0:
                self._sleep(wait)
                self._level = max(0.0, self._level - wait * self.rate)
                self._at = self._clock()
            self._level += 1
            return wait


@dataclass
class Stats:
    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    by_method: dict = field(default_factory=dict)


class BitrixClient:
    def __init__(
        self,
        webhook_url: str,
        rate: float = settings.RATE_PER_SECOND,
        burst: int = settings.BURST,
        max_attempts: int = settings.MAX_ATTEMPTS,
        timeout: float = settings.REQUEST_TIMEOUT_SECONDS,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.webhook = Webhook.parse(webhook_url)
        self.bucket = LeakyBucket(rate, burst, sleep=sleep) if rate > 0 else None
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.session = session or requests.Session()
        self.sleep = sleep
        self.stats = Stats()
        # method → (operating_reset_at, portal time of that answer, local monotonic time then):
        # the documented way to time the first retry after OPERATION_TIME_LIMIT.
        self._reset_hints: dict[str, tuple[float, float, float]] = {}
        redact_urllib3_logs(self.webhook.secret)

    def __repr__(self) -> str:
        return f"BitrixClient({self.webhook.redacted})"

    # -- one HTTP request --------------------------------------------------------------------
    def call(self, method: str, params: Mapping | None = None) -> dict:
        """One method call with retries; returns the whole answer (`result`, `total`, `time`…)."""
        return self._retrying()(self._request, method, params or {})

    def _retrying(self) -> Retrying:
        return Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=_wait,
            retry=retry_if_exception_type(BitrixRetryableError),
            before_sleep=self._before_sleep,
            sleep=self.sleep,
            reraise=True,
        )

    def _before_sleep(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "Bitrix24 %s: %s; retry %d of %d",
            getattr(exc, "method", "?"),
            exc,
            state.attempt_number,
            self.max_attempts - 1,
        )

    def _request(self, method: str, params: Mapping) -> dict:
        if self.bucket is not None:
            self.stats.waited_seconds += self.bucket.acquire()
        self.stats.requests += 1
        self.stats.by_method[method] = self.stats.by_method.get(method, 0) + 1
        response, body, failure = self._post(method, params)
        if failure is not None:
            raise failure  # raised outside `except`: requests' exception (and URL) is not kept
        if not isinstance(body, dict):
            raise BitrixRetryableError(
                f"{method}: the answer is not a JSON object", code="MALFORMED", method=method
            )
        if "error" in body and "result" not in body:
            raise self._error(method, body, response.status_code)
        if response.status_code >= 500:
            raise BitrixRetryableError(
                f"{method}: HTTP {response.status_code}",
                code=f"HTTP_{response.status_code}",
                method=method,
            )
        self._remember_reset(method, body.get("time"))
        return body

    def _post(self, method: str, params: Mapping):
        """(response, JSON body, None) or (…, …, the error to raise). requests' exceptions carry
        the URL, secret included, so none of them may travel as a cause or context."""
        try:
            response = self.session.post(
                self.webhook.method_url(method), json=params, timeout=self.timeout
            )
        except requests.RequestException as exc:
            reason = type(exc).__name__
            return (
                None,
                None,
                BitrixRetryableError(
                    f"{method}: connection failed ({reason})", code=reason, method=method
                ),
            )
        try:
            return response, response.json(), None
        except requests.exceptions.RequestException as exc:  # JSON errors and broken bodies
            reason = "non-JSON body" if isinstance(exc, ValueError) else type(exc).__name__
            return (
                response,
                None,
                BitrixRetryableError(
                    f"{method}: the portal answered HTTP {response.status_code} with a {reason}",
                    code="NON_JSON",
                    method=method,
                ),
            )

    def _error(self, method: str, body: Mapping, status: int) -> BitrixError:
        code = str(body.get("error") or "")
        description = self.webhook.redact(str(body.get("error_description") or ""))
        upper = code.upper()
        message = f"{method}: {code or 'error'}" + (f" — {description}" if description else "")
        # A legacy CRM method refuses a user without CRM rights with an empty code.
        denied = not code and description.rstrip(".") == "Access denied"
        if upper in FATAL_CODES or status in (401, 403) or denied:
            if upper in ("INVALID_CREDENTIALS", "NO_AUTH_FOUND", "INVALID_TOKEN", "EXPIRED_TOKEN"):
                message += f" (check the webhook {self.webhook.redacted})"
            elif upper == "INSUFFICIENT_SCOPE":
                message += f" (give the webhook the scopes {', '.join(settings.SCOPES)})"
            elif denied or upper == "ACCESS_DENIED":
                message += " (the webhook's user needs read access to the CRM)"
            return BitrixAuthError(message, code, method)
        if upper == "OPERATION_TIME_LIMIT":
            return BitrixRetryableError(message, code, method, retry_after=self._reset_in(method))
        if upper in RETRY_CODES or status >= 500:
            return BitrixRetryableError(message, code, method)
        return BitrixError(message, code, method)

    def _remember_reset(self, method: str, time_block) -> None:
        if isinstance(time_block, Mapping):
            reset_at, start = time_block.get("operating_reset_at"), time_block.get("start")
            if isinstance(reset_at, (int, float)) and isinstance(start, (int, float)):
                self._reset_hints[method] = (float(reset_at), float(start), time.monotonic())

    def _reset_in(self, method: str) -> float | None:
        """Seconds until the method's operating budget frees up, from the last good answer."""
        hint = self._reset_hints.get(method)
        if hint is None:
            return None
        reset_at, portal_then, local_then = hint
        portal_now = portal_then + (time.monotonic() - local_then)
        return max(1.0, reset_at - portal_now + 1)

    # -- batch -------------------------------------------------------------------------------
    def batch(self, commands: Mapping[str, str], chained: Collection[str] = ()) -> dict:
        """One `batch` request. Retries the whole batch when a command failed for a retryable
        reason (all commands are reads); raises for the others. Returns the `result` maps.

        `chained`: commands that name an earlier command's rows (`$result[prev][49][ID]`). When
        that earlier page came back short the reference names nothing and a portal may refuse
        the command (`INVALID_ARG_VALUE` from an ORM list): such a refusal is left in
        `result_error` for the caller, which knows whether the chain had ended."""

        def attempt() -> dict:
            body = self._request("batch", {"halt": 0, "cmd": dict(commands)})
            result = body.get("result")
            if not isinstance(result, Mapping) or "result" not in result:
                raise BitrixRetryableError(
                    "batch: malformed answer", code="MALFORMED", method="batch"
                )
            # PHP sends an empty map as `[]`, and a map of keys 0…n as a list
            result = {k: _as_map(v) if k.startswith("result") else v for k, v in result.items()}
            for key, block in result.get("result_time", {}).items():
                self._remember_reset(str(commands.get(key, "")).split("?", 1)[0], block)
            errors = result.get("result_error", {})
            for key, err in errors.items():
                cmd_method = str(commands.get(key, "")).split("?", 1)[0]
                exc = self._error(cmd_method, err if isinstance(err, Mapping) else {}, 400)
                if str(key) in chained and type(exc) is BitrixError:
                    continue
                exc.args = (
                    f"{exc} (batch command {key}: {self.webhook.redact(commands.get(key, ''))})",
                )
                raise exc
            result["result_error"] = errors
            result["time"] = body.get("time") or {}
            return result

        return self._retrying()(attempt)


def _as_map(value) -> dict:
    """A `result_*` map of a batch answer as a dict of string keys, whatever PHP made of it."""
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


_BACKOFF = wait_exponential_jitter(multiplier=0.5, max=30, jitter=0.5)


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, BitrixRetryableError) and exc.retry_after:
        return exc.retry_after
    return _BACKOFF(state)
