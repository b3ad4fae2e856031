"""The embedded engine: the DuckDB file at `warehouse_path`, and the copy BI tools read.

DuckDB lets a file have one read-write process or many readers, never both, and a BI tool
holding a connection to the working warehouse would make every sync fail. So BI tools never
open the warehouse: after each good build the marts (and the run log, for "data as of" and
failures) are copied into a new file, which then replaces `BI_PATH` in one `os.replace`. A
reader sees the old file or the new one, never a mix, and never a lock: on POSIX an open
connection keeps reading the file it opened. The copy is written in storage version v1.4.0 so
BI drivers that bundle an older DuckDB (1.4, 1.5) open it too.
"""

import errno
import glob
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from orchestration.pipeline import mart_changes
from orchestration.pipeline.failures import disk_full, disk_full_hint
from orchestration.pipeline.warehouse import (
    PUBLISHED_RUN_LOG,
    Connection,
    Published,
    Warehouse,
    quote_identifier,
)

STORAGE_VERSION = "v1.4.0"


class DuckDBConnection(Connection):
    def execute(self, sql: str, params: Sequence = ()):
        return self.raw.execute(sql, list(params))

    def ident(self, *names: str) -> str:
        return ".".join(quote_identifier(name) for name in names)

    def export(self, relation: str, path: Path, fmt: str) -> None:
        options = "format csv, header true" if fmt == "csv" else "format parquet"
        self.execute(f"copy (select * from {relation}) to ? ({options})", [str(path)])


class DuckDB(Warehouse):
    name = "duckdb"
    build_schema = "marts"
    # parquet, not dlt's default insert_values (5× slower, 10× the memory) nor jsonl: DuckDB
    # infers a jsonl file's columns from its first 20,480 rows, so a column first filled later
    # (a bad amount, a new custom field) failed the whole load; and dlt 1.31 cannot load the
    # empty jsonl file that creates a table before its first row.
    file_format = "parquet"

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Connection]:
        path = self.settings.warehouse_path
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(path), read_only=read_only) as raw:
            yield DuckDBConnection(raw)

    @contextmanager
    def committing(self) -> Iterator[None]:
        """The file stays open across a load's commit: every connection this process opens
        meanwhile (dlt's, one a load job and more, and ours) joins its database instead of
        opening the file and checkpointing it on close, ~25 ms each and six or more a pass.
        Never around dbt: dbt-duckdb opens the file with settings of its own, which DuckDB
        refuses beside an open database of other settings."""
        with self.writing(), self.connect():
            yield

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        return (duckdb.Error,)

    @property
    def busy_errors(self) -> tuple[type[Exception], ...]:
        return (duckdb.IOException,)  # the file's lock, held by a writer

    @property
    def disk(self) -> Path:
        return self.settings.warehouse_path.parent

    def describe(self) -> str:
        return str(self.settings.warehouse_path)

    def destination(self):
        import dlt
        from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

        credentials = DuckDbCredentials(str(self.settings.warehouse_path))
        # A merge into multi-million-row tables otherwise lets DuckDB's buffer pool grow to 80 %
        # of the machine (6.6 GB at demo scale 10); it spills to disk above this instead.
        credentials.global_config = {"memory_limit": self.settings.duckdb_memory_limit}
        return dlt.destinations.duckdb(credentials)

    @property
    def database(self) -> str:
        # dbt-duckdb names the database after the file's stem; the rest of its path reaches
        # only the profile
        return self.settings.warehouse_path.stem

    def publish(self) -> Published:
        """Write the marts into a new file and swap it in as `BI_PATH`. When a build replaced
        some marts but not all since the last publish (`mart_changes`), the new file starts as
        a copy of the published one, and only those marts and the run log are written again;
        else every mart is written into an empty file. It is written beside `BI_PATH` under
        one name (the writer lock makes a publish the only one), and it and DuckDB's write-ahead
        log beside it are removed whatever happens, so a failed publish (a full disk) leaves
        nothing behind to fill the disk further; files older releases named by process ID are
        removed too."""
        started = time.perf_counter()
        target = self.settings.bi_path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        _remove([tmp, *target.parent.glob(f".{glob.escape(target.name)}.*.tmp")])
        rows = 0
        try:
            with self.connect() as con:
                tables = _published_tables(con)
                marts = [t for s, t in tables if s == "marts"]
                changes = mart_changes.pending(con)
                if target.exists() and not changes.cover(marts):
                    shutil.copyfile(target, tmp)  # a file copy: ~1 GB/s, far below a rewrite
                    con.execute("attach ? as bi_new", [str(tmp)])
                else:
                    con.execute(f"attach ? as bi_new (storage_version '{STORAGE_VERSION}')",
                                [str(tmp)])
                published = con.rows("select table_name from information_schema.tables "
                                     "where table_catalog = 'bi_new' and table_schema = 'marts'")
                copy, drop = changes.plan(marts, [t for (t,) in published])
                for schema in sorted({s for s, _ in tables}):
                    con.execute(f"create schema if not exists {con.ident('bi_new', schema)}")
                for table in drop:
                    con.execute(f"drop table {con.ident('bi_new', 'marts', table)}")
                for schema, table in [("marts", t) for t in copy] + [PUBLISHED_RUN_LOG]:
                    copied = con.ident("bi_new", schema, table)
                    con.execute(f"create or replace table {copied} as select * from "
                                f"{con.ident(schema, table)}")
                    rows += con.value(f"select count(*) from {copied}")
                con.execute("detach bi_new")
                os.replace(tmp, target)
                mart_changes.consume(con, changes)
        except (OSError, duckdb.Error) as exc:
            if disk_full(exc):
                raise OSError(errno.ENOSPC, f"publishing the BI copy failed: "
                                            f"{disk_full_hint(target.parent)}") from exc
            raise
        finally:
            _remove([tmp])
        return Published(len(copy) + 1, rows, time.perf_counter() - started, tuple(copy))

    @contextmanager
    def read_published(self) -> Iterator[Connection]:
        if not self.settings.bi_path.exists():
            raise FileNotFoundError(
                f"{self.settings.bi_path} does not exist yet: `bitrix-warehouse sync` publishes it"
            )
        with duckdb.connect(str(self.settings.bi_path), read_only=True) as raw:
            yield DuckDBConnection(raw)

    def is_published(self) -> bool:
        return self.settings.bi_path.exists()

    def location(self) -> str:
        return str(self.settings.bi_path)

    def reader_hint(self) -> str:
        bi_path = self.settings.bi_path
        return f"""
Point a BI tool (Superset, DataLens, Metabase, DBeaver) or Python at the published copy:
  {bi_path.resolve()}   (DuckDB, read-only, schema marts; storage v1.4 for older drivers)
Open the ready dashboards (leads and sources, ads, funnel, managers, deals) in Superset:
  make bi   (then open the address it prints; it serves this demo's copy until BI_PATH exists)
Export a mart for Excel (with BI_PATH={bi_path}):
  bitrix-warehouse export mart_lead_sources_daily --format xlsx --out leads.xlsx
Watch the pipeline run itself every minute, against the emulator in live mode, in the Dagster UI:
  make dev   (then open http://127.0.0.1:3000)"""


def _published_tables(con: Connection) -> list[tuple[str, str]]:
    """Every mart, and the run log."""
    found = con.rows(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database() and table_type = 'BASE TABLE' "
        "order by 1, 2"
    )
    tables = [(s, t) for s, t in found if s == "marts" or (s, t) == PUBLISHED_RUN_LOG]
    if not any(schema == "marts" for schema, _ in tables):
        raise RuntimeError("the warehouse has no marts yet: run a sync and a build first")
    return tables


def _remove(files: list[Path]) -> None:
    """Each file and the write-ahead log DuckDB keeps beside it, where they exist."""
    for path in files:
        for leftover in (path, path.with_name(path.name + ".wal")):
            leftover.unlink(missing_ok=True)
