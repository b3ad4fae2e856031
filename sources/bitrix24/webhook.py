"""The webhook URL (`https://portal/rest/<user>/<secret>/`) and the redaction of its secret: every
message, exception and log line the source produces has the secret replaced by `***`, including
the request paths urllib3 logs at DEBUG."""

import logging
import re
from dataclasses import dataclass

from .errors import BitrixAuthError

_WEBHOOK = re.compile(r"^(https?://[^/]+)/rest/(\d+)/([^/]+)/?$")


@dataclass
class Webhook:
    base: str  # scheme://host[:port]
    user_id: str
    secret: str

    @classmethod
    def parse(cls, url: str) -> "Webhook":
        m = _WEBHOOK.match((url or "").strip())
        if not m:
            # Never echo the value: a malformed URL still holds the secret.
            raise BitrixAuthError(
                "The webhook URL must look like https://<portal>/rest/<user id>/<secret>/"
                " (SOURCES__BITRIX24__WEBHOOK_URL or .dlt/secrets.toml)",
                code="INVALID_WEBHOOK_URL",
            )
        return cls(m.group(1), m.group(2), m.group(3))

    def method_url(self, method: str) -> str:
        return f"{self.base}/rest/{self.user_id}/{self.secret}/{method}.json"

    @property
    def redacted(self) -> str:
        return f"{self.base}/rest/{self.user_id}/***/"

    def redact(self, text: str) -> str:
        return text.replace(self.secret, "***") if self.secret else text


class _RedactFilter(logging.Filter):
    """urllib3 logs request paths at DEBUG; the path holds the secret. One filter for the
    process, holding every secret a client was made with."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = message
        for secret in self.secrets:
            hidden = hidden.replace(secret, "***")
        if hidden != message:
            record.msg, record.args = hidden, ()
        return True


_REDACT = _RedactFilter()


def redact_urllib3_logs(secret: str) -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if _REDACT not in logger.filters:
        logger.addFilter(_REDACT)
    _REDACT.secrets.add(secret)
