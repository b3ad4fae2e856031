"""The pipeline's operations, each defined once: the CLI commands and the Dagster assets are thin
drivers that call these and hold no logic of their own.

- `load(settings, Sync() | Backfill(window) | Reconcile())`: extract → load into `bitrix_raw`,
  recorded in `ops.sync_runs`. A sync reads what changed since the cursor; a backfill re-reads
  the leads/deals created in a window whatever their DATE_MODIFY (history kept, the cursor
  untouched); a reconcile compares ID lists and marks deleted records (nothing is removed).
  The first sync of a warehouse runs in windows, each a dlt run committed before the next is
  read (`sources/bitrix24/windows.py`): memory stays flat and a kill resumes from the last one.
- `build(settings)`: `dbt build` of every model and data test (the marts read every raw table,
  so any load rebuilds them all; the incremental models make that cheap).
- `publish(settings)`: the marts copied to the BI file and swapped in atomically.
- `run(settings, what)`: load every portal (`orchestration.pipeline.portals`) → build → publish,
  each step timed. Every load is followed by both: a deletion mark or a repaired UTM only reaches
  a BI user once the marts are rebuilt. A portal whose load fails does not hold back the others:
  their data is built and published, then the failure is raised (`PortalsFailed`).

Every write holds the warehouse's writer lock (`Warehouse.writing`): the event worker, a Dagster
run and a CLI command may be started side by side, and DuckDB would fail the second writer with
a lock error; with the lock it waits its turn. A load holds it only to commit (and to look at
what is held): the portals of a round are read side by side (`PARALLEL_LOADS` at a time), each
waiting on its own portal's rate limit, and commit in turn.
"""

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar, Literal, TypeVar, get_args

import dlt

from orchestration.pipeline import ingest, transform
from orchestration.pipeline.portals import Portal
from orchestration.pipeline.settings import Settings
from orchestration.pipeline.warehouse import Published
from sources.bitrix24 import backfill_source, bitrix24_source, state
from sources.bitrix24.reconcile import deletions_source
from sources.bitrix24.tables import CRM, crm_entities
from sources.bitrix24.windows import FirstLoad

T = TypeVar("T")
ENTITIES = tuple(CRM)  # what a backfill can re-read: leads, deals
# A backfill window within what a portal's dates can hold (Bitrix24 dates from 1970 on; the
# far end leaves room for the day after `until` without overflowing Python's dates).
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(9999, 12, 30)


class InvalidRequest(ValueError):
    """An operation asked for wrongly; the message says what to change."""


@dataclass(frozen=True)
class BackfillWindow:
    """Leads and/or deals created in [since, until) (portal-local days); `until` None: open."""

    since: date
    until: date | None = None
    entities: tuple[str, ...] = ENTITIES

    def __post_init__(self) -> None:
        try:
            crm_entities(self.entities)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        if self.until is not None and self.until <= self.since:
            raise InvalidRequest(
                f"the window is empty: until ({self.until}) is not after since ({self.since})"
            )
        for name, day in (("since", self.since), ("until", self.until)):
            if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
                raise InvalidRequest(f"`{name}` must be a day from {EARLIEST_DAY} to "
                                     f"{LATEST_DAY}; got {day}")

    @classmethod
    def parse(
        cls, since: str | None, until: str | None = None, entities: Iterable[str] | str = ENTITIES
    ) -> "BackfillWindow":
        """From text as a user types it: days as YYYY-MM-DD, entities comma-separated or a list."""
        if isinstance(entities, str):
            entities = entities.split(",")
        wanted = tuple(dict.fromkeys(e.strip() for e in entities if e.strip()))  # each once
        return cls(_day("since", since), _day("until", until) if until else None, wanted)

    def describe(self) -> str:
        end = f" until {self.until}" if self.until else ""
        return f"the {' and '.join(self.entities)} created from {self.since}{end}"


def _day(name: str, value: str | None) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise InvalidRequest(f"`{name}` must be a day, YYYY-MM-DD; got {value!r}") from None


@dataclass(frozen=True)
class Sync:
    """The incremental pass: what changed since the cursor, the new stage history, the
    dictionaries; `deleted`: (entity, ID) pairs whose deletion an event announced, checked and
    marked in the same pass."""

    deleted: frozenset[tuple[str, int]] = frozenset()
    # filled by the pass: the announced deletions whose check the portal refused (dropped)
    refused: list[tuple[str, int]] = field(default_factory=list, compare=False)
    kind: ClassVar[str] = "sync"

    def source(self, pipeline: dlt.Pipeline, **options):
        deleted: dict[str, set[int]] = {}
        for entity, record_id in self.deleted:
            deleted.setdefault(entity, set()).add(record_id)
        return bitrix24_source(deleted=deleted, refused=self.refused, **options)


@dataclass(frozen=True)
class Backfill:
    """A re-read of a window of creation dates; a record read exactly as held is skipped."""

    window: BackfillWindow
    kind: ClassVar[str] = "backfill"

    def source(self, pipeline: dlt.Pipeline, **options):
        w = self.window
        known = state.known_versions(pipeline, w.since, w.until, w.entities)
        return backfill_source(w.since, w.until, w.entities, known, **options)


@dataclass(frozen=True)
class Reconcile:
    """Deleted records marked (restored ones unmarked); records never held are loaded."""

    kind: ClassVar[str] = "reconcile"

    def source(self, pipeline: dlt.Pipeline, **options):
        return deletions_source(known=state.known_ids(pipeline), **options)


Load = Sync | Backfill | Reconcile
Mode = Literal["sync", "backfill", "reconcile"]  # a load as the CLI and the launchpad name it
MODES: tuple[str, ...] = get_args(Mode)


def request(
    mode: str,
    since: str | None = None,
    until: str | None = None,
    entities: Iterable[str] | str = ENTITIES,
) -> Load:
    """A load as the CLI or the Dagster launchpad names it."""
    if mode == "sync":
        return Sync()
    if mode == "reconcile":
        return Reconcile()
    if mode == "backfill":
        return Backfill(BackfillWindow.parse(since, until, entities))
    raise InvalidRequest(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")


def load(
    settings: Settings, what: Load, *, portal: Portal = ingest.MAIN, progress: bool = False,
    **source_options
) -> ingest.RunResult:
    """Extract and load a portal; `source_options` go to the dlt source (webhook_url,
    rate_per_second…; a registered portal's own webhook wins over a webhook_url given here).
    Customers' personal data loads only when the warehouse opts in (`LOAD_PERSONAL_DATA`);
    when it does not, any a warehouse holds from before is erased after the load."""
    source_options = {"personal_data": settings.load_personal_data, **source_options,
                      **portal.source_options(settings.secrets_file)}
    with closing(FirstLoad()) as first_load:
        if isinstance(what, Sync):  # a first load runs in windows, one dlt run each
            source_options = {**source_options, "first_load": first_load}
        return ingest.load(
            settings,
            what.kind,
            lambda pipeline: what.source(pipeline, **source_options),
            progress,
            more=lambda: first_load.pending,
            portal=portal,
        )


def build(settings: Settings, *, full_refresh: bool = False, data_tests: bool = True) -> float:
    """The routine `dbt build` (`data_tests=False`: the models alone); returns its seconds."""
    started = time.perf_counter()
    with settings.warehouse.writing():
        transform.build(settings, transform.Build(full_refresh=full_refresh,
                                                  data_tests=data_tests))
    return time.perf_counter() - started


def publish(settings: Settings) -> Published:
    with settings.warehouse.writing():
        return settings.warehouse.publish()


class PortalsFailed(Exception):
    """Some portals' loads failed while the others' were built and published; one line each."""

    def __init__(self, failures: dict[str, BaseException]) -> None:
        self.failures = failures
        super().__init__("; ".join(f"portal {name}: {ingest.error_line(error)}"
                                   for name, error in failures.items()))


@dataclass
class Cycle:
    runs: list[ingest.RunResult] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    published: Published | None = None

    @property
    def rows(self) -> dict[str, int]:
        """Rows loaded per table, every portal's together."""
        out: dict[str, int] = {}
        for result in self.runs:
            for table, rows in result.rows.items():
                out[table] = out.get(table, 0) + rows
        return out

    def describe(self) -> str:
        loaded = ", ".join(f"{t} {n:,}" for t, n in sorted(self.rows.items()) if n)
        steps = ", ".join(f"{step} {s:.1f} s" for step, s in self.seconds.items())
        return f"Loaded: {loaded or 'nothing new'}\nSteps: {steps}"


def side_by_side(
    settings: Settings, portals: Sequence[Portal], work: Callable[[Portal], T]
) -> tuple[dict[str, T], dict[str, BaseException]]:
    """`work` done for each portal, `PARALLEL_LOADS` portals at a time: a load mostly waits on
    its portal's rate limit and takes the writer lock only to commit (dlt runs pipelines in
    threads, each with its own state and folder). Returns each portal's result and each
    failure, in the portals' order: one portal's failure never stops the others."""
    workers = max(1, min(settings.parallel_loads, len(portals)))
    if workers > 1:
        ingest.ready_for_threads(settings, portals[0])
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load") as pool:
        futures = {portal.name: pool.submit(work, portal) for portal in portals}
    results, failures = {}, {}
    for name, future in futures.items():
        if future.exception() is None:
            results[name] = future.result()
        else:
            failures[name] = future.exception()
    return results, failures


def run(
    settings: Settings,
    what: Load,
    *,
    portals: Sequence[Portal] | None = None,
    rebuild: bool = True,
    progress: bool = False,
    echo: Callable[[str], None] | None = None,
    **source_options,
) -> Cycle:
    """Load each portal (`portals`, else every registered one), then (unless `rebuild` is off)
    build the marts and publish them; `echo` shows progress. When every portal fails, the first
    failure is raised as it came; when some do, the others' data is built and published first,
    then `PortalsFailed` names the failed ones."""
    say = echo or (lambda _: None)
    cycle, failures = Cycle(), {}
    chosen = settings.registry.portals() if portals is None else portals

    def load_one(portal: Portal) -> ingest.RunResult:
        if len(chosen) > 1:
            say(f"Portal {portal.name}…")
        return load(settings, what, portal=portal, progress=progress, **source_options)

    started = time.perf_counter()
    results, failures = side_by_side(settings, chosen, load_one)
    for result in results.values():
        cycle.runs.append(result)
        for step, seconds in result.seconds.items():  # every portal's, summed
            cycle.seconds[step] = cycle.seconds.get(step, 0.0) + seconds
    cycle.seconds["pass"] = time.perf_counter() - started  # the portals' passes, side by side
    if failures and not cycle.runs:
        raise next(iter(failures.values()))
    if rebuild:
        _rebuild(settings, cycle, say)
    if failures:
        raise PortalsFailed(failures)
    return cycle


def _rebuild(settings: Settings, cycle: Cycle, say: Callable[[str], None]) -> None:
    say("Building the marts (dbt build)…")
    cycle.seconds["transform"] = build(settings)
    say(f"Publishing the marts to {settings.warehouse.location()}…")
    cycle.published = publish(settings)
    cycle.seconds["publish"] = cycle.published.seconds
