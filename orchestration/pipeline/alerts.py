"""Failure and staleness alerts: a short JSON message POSTed to `ALERT_WEBHOOK_URL` and logged.

The message says what failed or went stale, since when, and the error's first line. Every text
passes through `redact_webhooks`, so a portal webhook's secret quoted by some library's error
never leaves the machine. `text` makes the payload readable as a Slack/Mattermost message too.
"""

import logging
from dataclasses import asdict, dataclass
from datetime import datetime

import requests

from orchestration.pipeline.settings import Settings
from sources.bitrix24.errors import redact_webhooks

log = logging.getLogger("bitrix_warehouse.alerts")


@dataclass
class Alert:
    event: str  # run_failed | stale | fresh_again | bad_event
    subject: str  # a job or an asset
    since: datetime
    error: str | None = None
    run_id: str | None = None
    portal: str | None = None  # the portal whose load or tables it is about

    def payload(self) -> dict:
        what = {
            "run_failed": f"{self.subject} failed",
            "stale": f"{self.subject} is stale",
            "fresh_again": f"{self.subject} is fresh again",
            "bad_event": f"{self.subject} dropped an event it cannot act on",
        }[self.event]
        if self.portal:
            what = f"{what} for portal {self.portal}"
        text = f"bitrix-warehouse: {what} (since {self.since:%Y-%m-%d %H:%M:%S %Z})"
        if self.error:
            text += f": {self.error}"
        body = {**asdict(self), "since": self.since.isoformat(), "text": text}
        return {k: redact_webhooks(v) if isinstance(v, str) else v for k, v in body.items()}


def first_line(text: str | None) -> str | None:
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return redact_webhooks(lines[0])[:300] if lines else None


def send(settings: Settings, alert: Alert) -> bool:
    """Log the alert and POST it; True when the receiver took it. Never raises: an alert that
    cannot be delivered is logged, and must not fail the sensor that raised it."""
    payload = alert.payload()
    log.warning(payload["text"])
    if not settings.alert_webhook_url:
        return False
    try:
        response = requests.post(settings.alert_webhook_url, json=payload, timeout=10)
        response.raise_for_status()
    except requests.RequestException as exc:
        log.error("could not deliver the alert: %s", redact_webhooks(type(exc).__name__))
        return False
    return True
