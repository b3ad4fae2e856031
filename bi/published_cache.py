"""Superset's chart-data cache for the BI copy (`superset_config.DATA_CACHE_CONFIG`)."""

import os
import threading

from flask_caching.backends.simplecache import SimpleCache


class PublishedCopyCache(SimpleCache):
    """Chart data kept for the BI copy it was read from, so a dashboard opened again answers
    from memory (a chart's query and its serialisation were ~1-2 s of a 3-5 s open) and never
    shows data older than the last publish.

    Each publish swaps a new file in as BI_PATH (`os.replace`), so the file's identity (inode,
    modification time, size) names a published state, and every key is filed under the one
    BI_PATH has when the chart asks: the first request after a publish misses and queries the
    new file. The answers of older copies can never be asked for again, so the first request
    that sees a new copy drops them all: the cache holds one copy's answers (a dashboard
    refreshing every minute beside a publish every minute would otherwise fill it with dead
    DataFrames up to its threshold). A miss's answer is kept only when BI_PATH is still the
    copy of its lookup, made before its query opened the file: an answer whose query raced a
    publish is not kept. Superset looks up and stores a chart's data in one request's
    thread."""

    def __init__(self, bi_path: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)  # flask-caching's factory passes the threshold and the rest
        self._bi_path = bi_path or os.environ["BI_PATH"]
        self._looked_up = threading.local()  # a missed key → the copy it missed in
        self._held = None  # the copy whose answers the cache holds
        self._swap_lock = threading.Lock()  # (cachelib has its own `_lock`)

    def _copy(self) -> str | None:
        """The identity of the copy BI_PATH names now (None: nothing published yet); a new one
        drops the answers of the one before."""
        try:
            stat = os.stat(self._bi_path)
        except OSError:
            return None
        copy = f"{stat.st_ino}-{stat.st_mtime_ns}-{stat.st_size}"
        if copy != self._held:
            with self._swap_lock:
                if copy != self._held:
                    self._held = copy
                    super().clear()
        return copy

    def _filed(self, key: str, copy: str | None) -> str | None:
        """Where `key` is kept for `copy`: nowhere while nothing is published."""
        return None if copy is None else f"{copy}/{key}"

    def get(self, key: str):
        copy = self._copy()
        filed = self._filed(key, copy)
        value = None if filed is None else super().get(filed)
        if value is None:  # a miss: its answer is set next, in this thread
            self._looked_up.__dict__[key] = copy
        return value

    def set(self, key: str, value, timeout: int | None = None) -> bool:
        copy = self._copy()
        if self._looked_up.__dict__.pop(key, copy) != copy:
            return False  # a publish came between the lookup and the query
        filed = self._filed(key, copy)
        return filed is not None and super().set(filed, value, timeout)

    def add(self, key: str, value, timeout: int | None = None) -> bool:
        filed = self._filed(key, self._copy())
        return filed is not None and super().add(filed, value, timeout)

    def has(self, key: str) -> bool:
        filed = self._filed(key, self._copy())
        return filed is not None and super().has(filed)

    def delete(self, key: str) -> bool:
        filed = self._filed(key, self._copy())
        return filed is not None and super().delete(filed)
