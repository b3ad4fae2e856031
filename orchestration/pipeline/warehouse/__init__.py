"""The warehouse: one class per engine, built once from the settings (`settings.warehouse`), owning
everything that differs between engines: how to open the database, dlt's destination, its file
format and working folder, dbt's target and arguments, the publish step BI tools read, the
export of a published mart, and the demo's database. Nothing outside this package compares
engine names; a new engine is one subclass here (listed in `ENGINES`) plus the
`<engine>__` bodies of the dbt project's dispatched macros.

- `duckdb` (`DuckDB`, the embedded default): the file at `warehouse_path`, one writer at a time
  (`Warehouse.writing`); BI tools read a published copy (`BI_PATH`).
- `postgres` (`Postgres`): the database at `postgres_url`, many readers and writers at once; BI
  tools read its schema `marts`, which the publish step swaps in whole.

SQL passed to a `Connection` is the part both engines share, with `?` for parameters.
"""

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from filelock import FileLock

if TYPE_CHECKING:
    import dlt

    from orchestration.pipeline.settings import Settings

PUBLISHED_RUN_LOG = ("ops", "sync_runs")  # published beside the marts: "data as of", failures
# engine name → its class, in the module of this package named after it
ENGINES = {"duckdb": "DuckDB", "postgres": "Postgres"}
_LOCKS: dict[Path, tuple[threading.RLock, FileLock]] = {}
DEMO_DATABASE = "bitrix_demo"  # on a server engine: the demo's own database, made anew


@dataclass
class Published:
    """What a publish copied: `tables` (the run log too, where it is copied), their rows, and
    which marts they were."""

    tables: int
    rows: int
    seconds: float
    marts: tuple[str, ...] = ()


class Connection(ABC):
    """A DB-API connection with DuckDB's `execute(sql, params) → cursor` on every engine."""

    def __init__(self, raw) -> None:
        self.raw = raw

    @abstractmethod
    def execute(self, sql: str, params: Sequence = ()): ...

    @abstractmethod
    def ident(self, *names: str) -> str:
        """A (qualified) name for SQL text, each part quoted as an identifier by the driver's
        rule. Names never reach SQL bare."""

    @abstractmethod
    def export(self, relation: str, path: Path, fmt: str) -> None:
        """Write `relation` (an `ident`) to `path` as csv (with a header) or parquet."""

    def rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        return [tuple(r) for r in self.execute(sql, params).fetchall()]

    def value(self, sql: str, params: Sequence = ()):
        return self.rows(sql, params)[0][0]

    def has_table(self, schema: str, table: str) -> bool:
        """Whether the database has the table `schema`.`table`."""
        return bool(self.value("select count(*) from information_schema.tables where "
                               "table_catalog = current_database() and table_schema = ? "
                               "and table_name = ?", [schema, table]))


class Warehouse(ABC):
    """The engine behind a deployment's settings; see the module docstring."""

    name: ClassVar[str]
    build_schema: ClassVar[str]  # where dbt builds the marts (what `publish` publishes from)
    file_format: ClassVar[str]  # the files dlt loads through (see each engine's reason)

    def __init__(self, settings: "Settings") -> None:
        self.settings = settings

    # -- the database -------------------------------------------------------------------------
    @abstractmethod
    def connect(self, read_only: bool = False) -> AbstractContextManager[Connection]:
        """The warehouse, opened for a block (on Postgres one transaction, committed when the
        block ends without an error)."""

    @property
    @abstractmethod
    def errors(self) -> tuple[type[Exception], ...]:
        """The engine's own error classes (what a failed connection or statement raises)."""

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the deployment's one writer lock (a file beside `warehouse_path`; reentrant in a
        thread, exclusive between threads and processes): every step that writes the warehouse
        holds it - a load's commit, a build, a publish - so a build never sees half a load and
        DuckDB never meets a second writer. A load's extraction (the portal's rate limit) runs
        outside it, so portals extract side by side and take turns only to commit."""
        path = self.settings.warehouse_path.resolve()
        with _lock(path.with_name(path.name + ".lock")):
            yield

    @contextmanager
    def committing(self) -> Iterator[None]:
        """`writing`, for a load's steps that read or commit the warehouse (dlt's state check,
        its load jobs, the marks beside them); an engine that pays for every open of the
        warehouse keeps it open across them. Never around dbt."""
        with self.writing():
            yield

    @contextmanager
    def loading(self, pipeline_name: str) -> Iterator[None]:
        """Hold a portal's load lock for a whole load: one load of a portal at a time (its dlt
        state and pending packages are one working folder), whoever started it."""
        with _lock(self.dlt_dir.resolve() / f"{pipeline_name}.lock"):
            yield

    @property
    def busy_errors(self) -> tuple[type[Exception], ...]:
        """The errors that say another process holds the warehouse right now."""
        return ()

    @property
    @abstractmethod
    def disk(self) -> Path | str:
        """Where the warehouse's disk is, for a full disk's hint (a folder, or words)."""

    @abstractmethod
    def describe(self) -> str:
        """The warehouse, for people (no password)."""

    # -- loading (dlt) ------------------------------------------------------------------------
    @abstractmethod
    def destination(self) -> "dlt.destinations.Destination": ...

    @property
    def dlt_dir(self) -> Path:
        """dlt's working folder for this warehouse: its local state (the cursors) belongs to one
        warehouse, so switching engines or databases never goes on from another's cursors."""
        return self.settings.dlt_dir

    def loaded(self, schema: str, tables: Sequence[str]) -> None:
        """After a load put rows into `tables` of `schema` (statistics, where an engine keeps
        them by hand); nothing by default."""
        return

    def resuming(self, schema: str) -> None:
        """Before a killed run's load package is loaded again into `schema`: a job whose commit
        the kill hid from dlt loads its rows a second time, into its staging table (the merge
        keeps one row per key). Nothing by default: the table must take the rows again."""
        return

    # -- building (dbt) -----------------------------------------------------------------------
    def dbt_vars(self) -> dict[str, str]:
        """The dbt project's vars that name the warehouse (never a secret)."""
        return {"warehouse_path": str(self.settings.warehouse_path.resolve())}

    def dbt_target(self) -> list[str]:
        """dbt's arguments choosing the profile's target (a secret goes through the
        environment under the prefix dbt scrubs, never here)."""
        return []

    @property
    @abstractmethod
    def database(self) -> str:
        """The database's name as dbt's manifest holds it: a manifest serves every warehouse
        of that name."""

    # -- publishing and reading ---------------------------------------------------------------
    @abstractmethod
    def publish(self) -> Published:
        """Make the tested marts (and the run log) what BI tools read, all at once."""

    @abstractmethod
    def read_published(self) -> AbstractContextManager[Connection]:
        """A read-only connection to the published marts (schema `marts`, with the run log)."""

    @abstractmethod
    def is_published(self) -> bool: ...

    @abstractmethod
    def location(self) -> str:
        """Where BI tools find the published marts, for people (no password)."""

    @abstractmethod
    def reader_hint(self) -> str:
        """How a BI tool connects to the published marts (the demo's last words)."""

    def readers(self, portal: str, reader: str, allow: bool) -> None:
        """Let the database role `reader` read `portal`'s rows of the published marts (and no
        other portal's), or stop it (`allow` false). An engine without roles cannot: its
        readers read the whole published file."""
        raise NotImplementedError(
            f"a reader per portal needs database roles: the {self.name} engine publishes one "
            "file that every reader reads whole (WAREHOUSE_ENGINE=postgres has them)")

    # -- the demo -----------------------------------------------------------------------------
    @classmethod
    def demo(cls, settings: "Settings", echo: Callable[[str], None]) -> "Settings":
        """`settings` (the demo's folders) made ready for a fresh demo warehouse of this
        engine."""
        return settings


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Hold the lock named by the file `path`: between processes the file (filelock, which
    polls a held lock every 50 ms), between a process's threads first a lock of the process
    (handed on the moment it is released, so loads committing in turn do not poll). Reentrant in
    a thread."""
    if path not in _LOCKS:
        path.parent.mkdir(parents=True, exist_ok=True)
        _LOCKS.setdefault(path, (threading.RLock(), FileLock(path)))
    in_process, between_processes = _LOCKS[path]
    with in_process, between_processes:
        yield


def of(settings: "Settings") -> Warehouse:
    return engine(settings.engine)(settings)


def engine(name: str) -> type[Warehouse]:
    """The class of engine `name`, imported when first asked for."""
    if name not in ENGINES:
        raise ValueError(f"WAREHOUSE_ENGINE must be one of {', '.join(ENGINES)}, not {name!r}")
    return getattr(import_module(f"{__name__}.{name}"), ENGINES[name])


def quote_identifier(name: str) -> str:
    """One name as an SQL-standard identifier (DuckDB's parser's rule): in double quotes, a
    quote inside doubled."""
    if "\x00" in name:
        raise ValueError("a name with a NUL character")
    return '"' + name.replace('"', '""') + '"'


