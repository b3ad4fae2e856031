"""What can go wrong talking to a portal, and the redaction of secrets (a webhook's, a database
URL's password) from any text.

Decide on the `error` code, not the HTTP status (docs/bitrix24-api.md §1.4): the fatal codes are
never retried, the retryable ones always are; every message here is free of the webhook secret.
"""

import re

FATAL_CODES = {
    "INVALID_CREDENTIALS",
    "NO_AUTH_FOUND",
    "EXPIRED_TOKEN",
    "INVALID_TOKEN",
    "INSUFFICIENT_SCOPE",
    "ACCESS_DENIED",
    "USER_ACCESS_ERROR",
    "ERROR_METHOD_NOT_FOUND",
    "INVALID_REQUEST",
    "PORTAL_DELETED",
    "OVERLOAD_LIMIT",
    "AUTHORIZATION_ERROR",
}
RETRY_CODES = {"QUERY_LIMIT_EXCEEDED", "INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER"}
_WEBHOOK_SECRET = re.compile(r"(/rest/\d+/)[^/\s'\"]+")
_URL_PASSWORD = re.compile(r"(\w+://[^:/\s@'\"]+:)[^@\s'\"]+(@)")  # postgresql://user:…@host


def redact_webhooks(text: str) -> str:
    """Any webhook URL's secret and any database URL's password in a text (an error from another
    library, an alert) → `***`."""
    return _URL_PASSWORD.sub(r"\1***\2", _WEBHOOK_SECRET.sub(r"\1***", text))


class BitrixError(Exception):
    """A failure talking to the portal. The message never contains the webhook secret."""

    def __init__(self, message: str, code: str = "", method: str = "") -> None:
        super().__init__(message)
        self.code, self.method = code, method


class BitrixAuthError(BitrixError):
    """Credentials or permissions are wrong: retrying cannot help."""


class BitrixRetryableError(BitrixError):
    """Worth another try: rate limit, server fault, broken or non-JSON answer."""

    def __init__(
        self, message: str, code: str = "", method: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, code, method)
        self.retry_after = retry_after
