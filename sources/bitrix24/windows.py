"""A first load in windows: memory bounded whatever the portal's size, resumable after a kill, and
the portal read without pause while the windows are written.

A first load reads every record the portal holds. As one dlt pass it would hold the whole portal
in one load package, normalized and merged at once; instead `portal_pages` takes the first load
as a sequence of windows. A window takes the next `window_rows` records of the one keyset read of
every list and commits them, with the ID each list has reached, in dlt's state; the next window
goes on from there — in this process, or after a kill in the next one. The watermark of every
list is the portal's `server.time` taken when the first window started (kept in the state
meanwhile) and is set when the last window loads: a record changed while the windows were read
is read again by the first incremental pass.

The read runs ahead of the windows in a thread (`ReadAhead`), through a queue of at most
`settings.READ_AHEAD_ROWS` rows: while dlt normalizes and loads one window, the portal is read for
the next, so a first load takes about the time the portal's rate limit allows.
"""

import queue
import threading
from collections.abc import Iterator

from . import settings
from .client import BitrixClient
from .paging import Page, Stream, read_streams

_END = object()


class ReadAhead:
    """`read_streams(client, streams)` run in a thread, its pages handed over through a bounded
    queue. The first batch (`server.time` and every list's first page) is read by the caller,
    so its failure is the caller's; a later failure is raised to the consumer."""

    def __init__(self, client: BitrixClient, streams: list[Stream], rows: int) -> None:
        self.client = client
        read = read_streams(client, streams)
        self.server_time = read.server_time
        self.exhausted = False
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, rows // settings.PAGE_SIZE))
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(iter(read),), name="bitrix24-read-ahead", daemon=True
        )
        self._thread.start()

    def _run(self, pages: Iterator[Page]) -> None:
        try:
            for page in pages:
                if not self._put(page):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def window(self, rows: int) -> Iterator[Page]:
        """The next pages, up to the one that brings this window to `rows` rows or more."""
        taken = 0
        while taken < rows and not self.exhausted:
            item = self._queue.get()
            if item is _END:
                self.exhausted = True
            elif isinstance(item, BaseException):
                raise item
            else:
                taken += len(item.rows)
                yield item

    def close(self) -> None:
        """Stop reading. The thread ends after the request it may be in (not waited for)."""
        self._stop.set()


class FirstLoad:
    """What the windows of one first load share in a process: the read ahead, started by the
    first window from the position the state holds, and whether another window must run."""

    def __init__(self, read_ahead_rows: int = settings.READ_AHEAD_ROWS) -> None:
        self.read_ahead_rows = read_ahead_rows
        self.read: ReadAhead | None = None
        self.pending = False  # a window ended before the read did

    def start(self, client: BitrixClient, streams: list[Stream]) -> ReadAhead:
        if self.read is None:
            self.read = ReadAhead(client, streams, self.read_ahead_rows)
        return self.read

    def close(self) -> None:
        """Drop the read (a window that failed leaves the state behind the read: the next first
        load starts again from the state)."""
        if self.read is not None:
            self.read.close()
            self.read = None
