"""The portal's clock and time zone: a virtual clock tests can set, freeze or advance, and the
portal's datetime wire format.

API facts relied on (docs/bitrix24-api.md §5, §10.1): datetimes go out as
`YYYY-MM-DDThh:mm:ss±hh:mm` in the portal's zone with no fractions; an empty datetime is `""`;
date-only fields go out as a datetime whose time part equals the UTC offset (`date('c',
MakeTimeStamp($d) + date('Z'))`); filter values are read with their offset, and a value without an
offset is read in the portal's zone; a value that is not a date makes the condition match nothing.
"""

import re
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_RU_DATE = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})(?:\s+(\d{2}):(\d{2})(?::(\d{2}))?)?$")


class PortalClock:
    """Virtual time: `now()` is the real clock shifted by an offset, or a frozen instant."""

    def __init__(self, timezone: str = "Europe/Moscow") -> None:
        self.zone = ZoneInfo(timezone)
        self.timezone = timezone
        self._shift = 0.0
        self._frozen: float | None = None
        self._offset_cache: dict[int, tuple[int, str]] = {}
        self.fixed_since, self.fixed_until, self.fixed_offset = self._fixed_offset_period()

    # -- the virtual clock -------------------------------------------------------------------
    def now(self) -> float:
        return self._frozen if self._frozen is not None else time.time() + self._shift

    def set(self, instant: float, frozen: bool = False) -> None:
        if frozen:
            self._frozen = instant
        else:
            self._frozen = None
            self._shift = instant - time.time()

    def advance(self, seconds: float) -> None:
        if self._frozen is not None:
            self._frozen += seconds
        else:
            self._shift += seconds

    def reset(self) -> None:
        self._shift, self._frozen = 0.0, None

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    # -- wire format -------------------------------------------------------------------------
    def _fixed_offset_period(self) -> tuple[int, int, tuple[int, str]]:
        """The period (unix seconds) up to 2040 in which the zone keeps one offset.

        Moscow has kept +03:00 since 2014; zones with daylight saving have no such period
        worth the name, so their values are formatted the slow, exact way."""
        end = datetime(2040, 1, 1, tzinfo=UTC)
        last = self._offset(int(end.timestamp()))
        since = end
        probe = end
        while probe.year > 1970:
            probe -= timedelta(days=30)
            if self._offset(int(probe.timestamp())) != last:
                break
            since = probe
        return int(since.timestamp()), int(end.timestamp()), last

    def sql_format(self, column: str) -> str:
        """SQL producing the legacy datetime text of a unix-seconds column.

        SQLite formats values from the zone's fixed-offset period itself (the hot path of every
        list call); older values go through `bx_datetime`, i.e. `format`."""
        seconds, suffix = self.fixed_offset
        return (
            f"CASE WHEN {column} IS NULL THEN ''"
            f" WHEN {column} >= {self.fixed_since} AND {column} < {self.fixed_until}"
            f" THEN strftime('%Y-%m-%dT%H:%M:%S', {column} + {seconds}, 'unixepoch') || '{suffix}'"
            f" ELSE bx_datetime({column}) END"
        )

    def _offset(self, ts: int) -> tuple[int, str]:
        """UTC offset in seconds and as `+03:00` at instant `ts`, cached per hour."""
        hour = ts // 3600
        hit = self._offset_cache.get(hour)
        if hit is None:
            delta = datetime.fromtimestamp(ts, self.zone).utcoffset() or timedelta(0)
            seconds = int(delta.total_seconds())
            sign = "+" if seconds >= 0 else "-"
            hh, mm = divmod(abs(seconds) // 60, 60)
            hit = (seconds, f"{sign}{hh:02d}:{mm:02d}")
            if len(self._offset_cache) > 100_000:
                self._offset_cache.clear()
            self._offset_cache[hour] = hit
        return hit

    def format(self, ts: float | int | None) -> str:
        """Legacy datetime: ISO in the portal zone, `""` when empty."""
        if ts is None:
            return ""
        ts = int(ts)
        seconds, suffix = self._offset(ts)
        t = time.gmtime(ts + seconds)
        return (
            f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
            f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}{suffix}"
        )

    def format_date(self, day: str | None) -> str:
        """Legacy date: local midnight plus the UTC offset, formatted as a datetime."""
        if not day:
            return ""
        d = date.fromisoformat(day)
        midnight = datetime(d.year, d.month, d.day, tzinfo=self.zone)
        seconds = int((midnight.utcoffset() or timedelta(0)).total_seconds())
        return self.format(int(midnight.timestamp()) + seconds)

    def local_date(self, ts: float) -> str:
        return datetime.fromtimestamp(ts, self.zone).date().isoformat()

    def to_local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self.zone)

    # -- reading values ----------------------------------------------------------------------
    def parse(self, value: object) -> int | None:
        """A datetime given by a client (ISO 8601 or `DD.MM.YYYY hh:mm:ss`) → unix seconds.

        None when the value is not a date, as the portal then matches nothing.
        """
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
        if not isinstance(value, str) or not value.strip():
            return None
        text = value.strip()
        m = _RU_DATE.match(text)
        if m:
            dd, mo, yy, hh, mi, ss = m.groups()
            try:
                dt = datetime(int(yy), int(mo), int(dd), int(hh or 0), int(mi or 0), int(ss or 0))
            except ValueError:
                return None
        else:
            try:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.zone)
        return int(dt.timestamp())

    def parse_date(self, value: object) -> str | None:
        """A date-only value → `YYYY-MM-DD` (the date part as the portal reads it)."""
        ts = self.parse(value)
        return None if ts is None else self.local_date(ts)
