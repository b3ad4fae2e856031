"""The event worker (`bitrix-warehouse worker`): one long-lived process that keeps `BI_PATH`
seconds behind the portal, where the minute schedule keeps it about a minute behind.

A cycle is a sync pass, then `dbt run` of every model, then the BI copy, all in this process:
dbt's programmatic runner with the project parsed once, so a cycle pays no start-up (the
scheduled job spends ~13 s launching a run and ~10 s starting and parsing dbt). A cycle starts:

- on an event: the receiver (`orchestration.worker.events`) verified a portal's POST and woke us;
- on a poll, every `poll_seconds`: a pass with nothing new costs one request (a `batch` of the
  first page of every list), and then stops there: no dbt, no copy. Events have no retries on
  a portal, so the poll stays on as their safety net, and it is the trigger on a portal that
  sends none.

Events the worker cannot hear (it was down, or the portal's one delivery failed) are not sent
again, so changes are read by the pass whatever woke it, and deletes are caught by a reconcile
(ID lists compared) in the first cycle after a start and every `reconcile_every_seconds` after.

Events that arrive while a cycle runs wake one more cycle after it: a burst of a thousand costs
the cycle under way and one more, not a thousand. A delete event's record is checked and marked
deleted in the next pass (the hourly reconcile stays the safety net for missed events).

While nothing changes, the freshness mart and the copy are still refreshed every
`refresh_seconds`, so the dashboards' "data as of" and Dagster's freshness keep moving.

`dbt run` leaves the data tests out: they run every `test_every_seconds` after a good cycle,
and a round that could not run is retried after the next cycle, so none is ever skipped for
good. A failing data test is reported to Dagster as a failed asset check and alerted.

Every registered portal is served (`orchestration.pipeline.portals`): an event names its portal
(the receiver knows it by the portal's own token) and wakes a pass of that portal alone; a poll,
the refresh and the reconcile take every portal. A portal whose pass fails is alerted once and
left out until it passes again, while the others' changes are built and published.

Nothing is lost: each step is idempotent (dlt finishes a killed pass's packages before the next
pass reads; `dbt run` rebuilds; the copy is swapped in whole), announced deletes stay queued
(in a file beside the warehouse) until a pass that checked them succeeds, and every step holds
the warehouse's writer lock, so a scheduled Dagster run and this worker take turns. A failed
cycle is logged, recorded in `ops.sync_runs`, alerted once, and tried again after a back-off.
"""

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from orchestration.dagster.reporting import DagsterReport
from orchestration.pipeline import alerts, ingest, operations, transform
from orchestration.pipeline.portals import MAIN, NAME, Portal
from orchestration.pipeline.settings import Settings
from orchestration.worker import events

log = logging.getLogger("bitrix_warehouse.worker")

# The routine build: it leaves out the views that cannot have changed (`standing_views`).
DATA_MODELS = transform.Build(data_tests=False)
DATA_TESTS = transform.Build(models=False)
FRESHNESS_ONLY = transform.Build(data_tests=False, select=("mart_pipeline_freshness",))


@dataclass(frozen=True)
class Timing:
    poll_seconds: float = 5.0
    refresh_seconds: float = 60.0
    test_every_seconds: float = 300.0
    reconcile_every_seconds: float = 3600.0
    max_backoff_seconds: float = 300.0


DEFAULT_TIMING = Timing()


@dataclass
class CycleResult:
    """What one cycle did: `trigger` event | poll | refresh; `seconds` per step."""

    trigger: str
    rows: int = 0
    published: bool = False
    seconds: dict[str, float] = field(default_factory=dict)


class Worker:
    def __init__(
        self,
        settings: Settings,
        timing: Timing = DEFAULT_TIMING,
        report: DagsterReport | None = None,
        **source_options,
    ) -> None:
        self.settings, self.timing, self.report = settings, timing, report
        self.source_options = source_options
        self.cycles: list[CycleResult] = []
        self.failures = 0
        self._wake, self._stop = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        # announced deletes survive a kill: appended to a file beside the warehouse on arrival,
        # the file rewritten with what is still unchecked after each pass
        self._deletes_file = settings.warehouse_path.with_name(
            settings.warehouse_path.name + ".deletes"
        )
        self._deleted: set[tuple[str, str, int]] = self._read_deletes()  # portal, entity, ID
        self._woken: set[str] = set()  # the portals whose events came since the last cycle
        self._failing: set[str] = set()  # portals whose last pass failed (alerted once)
        self._last_publish = 0.0
        self._unbuilt = True  # rows loaded that no build has published yet (at start: unknown)
        self._next_tests = time.monotonic() + timing.test_every_seconds
        self._next_reconcile = 0.0  # at start: deletes made while no one listened
        self._tests_pending = False

    # -- the receiver's side -----------------------------------------------------------------
    def notify(self, event: events.Event) -> None:
        """Called by the receiver for each verified event; never blocks."""
        with self._lock:
            if event.action == "DELETE":
                self._deleted.add((event.portal, event.entity, event.record_id))
                with self._deletes_file.open("a") as out:
                    out.write(f"{event.portal} {event.entity} {event.record_id}\n")
            self._woken.add(event.portal)
        self._wake.set()

    def _read_deletes(self) -> set[tuple[str, str, int]]:
        """The queue a killed worker left: `portal entity ID` a line (`entity ID`, a release's
        before portals: `main`'s). A line that names no lead or deal (written by hand, or by a
        release that took any digits as an ID) is dropped with a warning and an alert: one bad
        item never blocks the queue."""
        if not self._deletes_file.exists():
            return set()
        queued, bad = set(), []
        for line in self._deletes_file.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 2:  # written before portals: main's
                parts = [MAIN, *parts]
            record = events.record_id(parts[2]) if len(parts) == 3 else None
            if (record is not None and NAME.match(parts[0])
                    and parts[1] in events.ENTITIES.values()):
                queued.add((parts[0], parts[1], record))
            elif line.strip():
                bad.append(line.strip()[:60])
        if bad:
            message = (f"{len(bad)} queued delete(s) name no lead or deal and were dropped "
                       f"(first: {bad[0]!r}); the hourly reconcile still finds real deletions")
            log.warning("%s", message)
            alerts.send(self.settings, alerts.Alert("bad_event", "worker", datetime.now(UTC),
                                                    message))
            self._write_deletes(queued)
        return queued

    def _write_deletes(self, queued: set[tuple[str, str, int]]) -> None:
        tmp = self._deletes_file.with_name(self._deletes_file.name + ".tmp")
        tmp.write_text("".join(f"{portal} {entity} {rid}\n"
                               for portal, entity, rid in sorted(queued)))
        tmp.replace(self._deletes_file)

    # -- the loop ----------------------------------------------------------------------------
    def stop(self) -> None:
        """End `serve` after the cycle under way (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def serve(self) -> None:
        """Cycle until `stop()`: on a wake, on the poll interval, and back off on errors."""
        stop = self._stop
        next_poll = 0.0  # a first pass at once: catch up with what happened while we were down
        backoff = 0.0
        while not stop.is_set():
            self._wake.wait(max(0.0, next_poll - time.monotonic()))
            if stop.is_set():
                break
            try:
                self.cycle()
            except Exception as exc:  # the worker outlives a failed cycle
                backoff = min(max(backoff * 2, self.timing.poll_seconds),
                              self.timing.max_backoff_seconds)
                self._failed(exc, backoff)
                stop.wait(backoff)
                next_poll = time.monotonic()
                continue
            if self.failures:
                self._recovered()
            backoff = 0.0
            next_poll = time.monotonic() + self.timing.poll_seconds

    def cycle(self) -> CycleResult:
        """One cycle: the pass of each portal an event came from (of every portal on a poll),
        and when it or a failed cycle before it loaded anything (or the copy is older than
        `refresh_seconds`), dbt and the copy; the data tests when due."""
        self._wake.clear()  # an event from here on wakes the next cycle
        with self._lock:
            deleted = frozenset(self._deleted)
            woken, self._woken = self._woken, set()
        result = CycleResult("event" if woken else "poll")
        started = time.perf_counter()
        reconcile = time.monotonic() >= self._next_reconcile
        portals = self.settings.registry.portals()
        self._forget_deletes(deleted, {p.name for p in portals})
        if woken and not reconcile:  # the portals that sent events, or have deletes queued
            queued = woken | {name for name, _, _ in deleted}
            portals = tuple(p for p in portals if p.name in queued)

        def work(portal: Portal) -> tuple[list[ingest.RunResult], float]:
            loads = [self._pass(portal, deleted)]
            if not reconcile:
                return loads, 0.0
            step = time.perf_counter()  # after the pass: records it just loaded are not re-read
            loads.append(operations.load(self.settings, operations.Reconcile(),
                                         portal=portal, **self.source_options))
            return loads, time.perf_counter() - step

        done, failures = operations.side_by_side(self.settings, portals, work)
        loads = [load for portal_loads, _ in done.values() for load in portal_loads]
        if reconcile:
            result.seconds["reconcile"] = sum(seconds for _, seconds in done.values())
        if failures and not loads:
            raise next(iter(failures.values()))
        self._portal_failures(failures, {load.portal for load in loads} - set(failures))
        if reconcile:
            self._next_reconcile = time.monotonic() + self.timing.reconcile_every_seconds
        for load in loads:
            result.rows += sum(load.rows.values())
            if load.kind == "sync":
                for step, seconds in load.seconds.items():
                    result.seconds[step] = result.seconds.get(step, 0.0) + seconds
        self._unbuilt = self._unbuilt or result.rows > 0
        result.seconds["pass"] = time.perf_counter() - started
        # Loads are reported when they landed rows, whatever dbt does next, and with each
        # refresh (their "data as of" moved); not for every idle poll: ~16 events a few seconds
        if self.report and result.rows:
            for load in loads:
                self.report.loaded(load)
        stale = time.monotonic() - self._last_publish >= self.timing.refresh_seconds
        if self._unbuilt or stale:
            if not self._unbuilt:
                result.trigger = "refresh"
            step = time.perf_counter()
            build = DATA_MODELS if self._unbuilt else FRESHNESS_ONLY
            with self.settings.warehouse.writing():
                built = transform.build(self.settings, build)
            result.seconds["transform"] = time.perf_counter() - step
            published = operations.publish(self.settings)
            result.seconds["publish"] = published.seconds
            result.published, self._unbuilt = True, False
            self._last_publish = time.monotonic()
            if self.report:
                for load in loads if not result.rows else ():
                    self.report.loaded(load)
                self.report.built(built)
                self.report.published(published, self.settings.warehouse.location())
        self.cycles.append(result)
        level = logging.INFO if result.rows or result.published else logging.DEBUG
        log.log(level, "%s: %s rows%s; %s", result.trigger, f"{result.rows:,}",
                 ", published" if result.published else "",
                 ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()))
        if self._tests_pending or time.monotonic() >= self._next_tests:
            self.run_data_tests()
        return result

    def run_data_tests(self) -> bool:
        """`dbt test` of every data test; True when all pass. Left pending on an error that
        kept them from running, so the next cycle tries again."""
        self._tests_pending = True
        try:
            with self.settings.warehouse.writing():
                results = transform.build(self.settings, DATA_TESTS)
            passed = True
        except transform.BuildFailed as exc:
            results, passed = exc.results, False
            if not results:
                raise
            alerts.send(self.settings, alerts.Alert(
                "run_failed", "data tests", datetime.now(UTC), alerts.first_line(str(exc))))
        if self.report:
            self.report.tested(results)
        self._tests_pending = False
        self._next_tests = time.monotonic() + self.timing.test_every_seconds
        return passed

    def _pass(self, portal: Portal, deleted: frozenset) -> ingest.RunResult:
        """The portal's pass, checking its announced deletes; those it checked leave the
        queue (those that came during the pass wait for the next one)."""
        mine = frozenset((entity, rid) for name, entity, rid in deleted if name == portal.name)
        sync = operations.Sync(mine)
        run = operations.load(self.settings, sync, portal=portal, **self.source_options)
        if mine:
            with self._lock:
                self._deleted -= {(portal.name, entity, rid) for entity, rid in mine}
                self._write_deletes(self._deleted)
        if sync.refused:
            shown = ", ".join(f"{entity} {rid}" for entity, rid in sync.refused[:5])
            alerts.send(self.settings, alerts.Alert(
                "bad_event", "worker", datetime.now(UTC),
                f"the portal refused to check {len(sync.refused)} announced deletion(s) "
                f"({shown}); dropped, the hourly reconcile still finds real deletions",
                portal=portal.name))
        return run

    def _forget_deletes(self, deleted: frozenset, served: set[str]) -> None:
        """Announced deletes of a portal no longer registered leave the queue: nothing will
        ever check them."""
        orphaned = {item for item in deleted if item[0] not in served}
        if orphaned:
            log.warning("dropped %d queued delete(s) of portals no longer served", len(orphaned))
            with self._lock:
                self._deleted -= orphaned
                self._write_deletes(self._deleted)

    # -- failures ----------------------------------------------------------------------------
    def _portal_failures(self, failures: dict[str, BaseException], passed: set[str]) -> None:
        """Some portals failed while others passed: each failing portal is logged every cycle,
        alerted once, and shown in Dagster; one that passes again is forgotten."""
        for name, exc in failures.items():
            error = ingest.error_line(exc)
            log.error("portal %s failed: %s", name, error)
            if self.report:
                self.report.failed(error, name)
            if name not in self._failing:
                self._failing.add(name)
                alerts.send(self.settings, alerts.Alert(
                    "run_failed", "worker", datetime.now(UTC), error, portal=name))
        for name in passed & self._failing:
            log.warning("portal %s passes again", name)
            self._failing.discard(name)

    def _failed(self, exc: BaseException, backoff: float) -> None:
        self.failures += 1
        error = ingest.error_line(exc)
        log.error("cycle failed (%d in a row), next try in %.0f s: %s", self.failures, backoff,
                  error)
        if self.report:
            self.report.failed(error)
        if self.failures == 1:
            alerts.send(self.settings, alerts.Alert("run_failed", "worker", datetime.now(UTC),
                                                    error))

    def _recovered(self) -> None:
        log.warning("cycle succeeded again after %d failures", self.failures)
        self.failures = 0


def run(
    settings: Settings, host: str, port: int, timing: Timing, echo, **source_options
) -> None:
    """Serve the receiver (when a token is set) and cycle until SIGINT or SIGTERM."""
    logging.basicConfig(format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    worker = Worker(settings, timing, DagsterReport.open(settings), **source_options)
    tokens, server = settings.registry.application_tokens(), None
    if tokens:
        server = events.serve(settings.registry.application_tokens, worker.notify, host, port)
        echo(f"Events: POST http://{host}:{port}{events.PATH} (point each portal's outgoing "
             f"webhook here); heard from {', '.join(sorted(tokens))}")
    else:
        echo("Events: off (no portal's application token is set: "
             "SOURCES__BITRIX24__APPLICATION_TOKEN, or `portals add --application-token`); "
             "polling only")
    echo(f"Polling every {timing.poll_seconds:g} s; data tests every "
         f"{timing.test_every_seconds:g} s; BI tools read {settings.warehouse.location()}")
    if worker.report is None:
        echo("Dagster: not reporting (DAGSTER_HOME is not set)")
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: worker.stop())
    try:
        worker.serve()
    finally:
        if server is not None:
            server.should_exit = True
