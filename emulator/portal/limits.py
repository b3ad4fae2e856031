"""The portal's two throttles (docs/bitrix24-api.md §4).

- Request intensity, a leaky bucket per portal: every HTTP request adds 1 to a counter that drains
  by `rate` per second; a request that would lift it above `burst` is refused with 503
  `QUERY_LIMIT_EXCEEDED` before it runs. A `batch` is one request. Refusals do not fill the bucket,
  so a client that backs off recovers. Real (monotonic) time drives it: clients really wait.
- Resource intensity, per (credential, method): the execution time of calls is summed in
  one-minute buckets; each bucket counts for 10 minutes from the first call recorded in it
  (`limits.md`: "if the first call in the basket started at 10:05:20 … `operating_reset_at` will
  correspond to 10:15:20"). Once the sum passes `limit` seconds the next call of that method is
  refused with 429 `OPERATION_TIME_LIMIT` until the oldest bucket drops out (`operating_reset_at`).
  The emulator answers in microseconds where a portal takes tens of milliseconds, so the time
  charged is the measured time × `cost_scale`. The portal clock drives it, so a test can
  advance the clock past a block instead of sleeping.
"""

import time
from collections import defaultdict
from dataclasses import dataclass, field

BUCKET_SECONDS = 60
WINDOW_SECONDS = 10 * BUCKET_SECONDS


@dataclass
class LeakyBucket:
    rate: float = 2.0
    burst: int = 50
    enabled: bool = True
    _level: float = 0.0
    _at: float = field(default_factory=time.monotonic)

    def admit(self) -> bool:
        """Count one request; False when the portal would refuse it."""
        if not self.enabled:
            return True
        now = time.monotonic()
        self._level = max(0.0, self._level - (now - self._at) * self.rate)
        self._at = now
        if self._level + 1 > self.burst:
            return False
        self._level += 1
        return True

    def reset(self) -> None:
        self._level, self._at = 0.0, time.monotonic()


@dataclass
class _Bucket:
    first_call: float  # portal time of the first call recorded in this minute
    seconds: float = 0.0


@dataclass
class OperatingBudget:
    limit: float = 480.0
    cost_scale: float = 1.0
    enabled: bool = True
    # (credential, method) → {minute index: bucket}
    _spent: dict = field(default_factory=lambda: defaultdict(dict))

    def _window(self, key: tuple[str, str], now: float) -> dict[int, _Bucket]:
        buckets = self._spent[key]
        for m in [m for m, b in buckets.items() if b.first_call + WINDOW_SECONDS <= now]:
            del buckets[m]
        return buckets

    def blocked(self, key: tuple[str, str], now: float) -> bool:
        if not self.enabled:
            return False
        return self.operating(key, now) > self.limit

    def charge(self, key: tuple[str, str], seconds: float, started: float, now: float) -> None:
        """Add a call that started at `started` (its minute's first call opens the bucket)."""
        if self.enabled:
            bucket = self._window(key, now).setdefault(
                int(started // BUCKET_SECONDS), _Bucket(started)
            )
            bucket.seconds += seconds * self.cost_scale

    def operating(self, key: tuple[str, str], now: float) -> float:
        return sum(b.seconds for b in self._window(key, now).values())

    def reset_at(self, key: tuple[str, str], now: float) -> int:
        """When the oldest counted bucket leaves the window (unix seconds)."""
        window = self._window(key, now)
        oldest = min((b.first_call for b in window.values()), default=now)
        return int(oldest + WINDOW_SECONDS)

    def reset(self) -> None:
        self._spent.clear()
