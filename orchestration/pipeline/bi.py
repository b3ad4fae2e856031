"""What BI tools and people read: the published marts, and exports.

On PostgreSQL (`WAREHOUSE_ENGINE=postgres`) BI tools read the warehouse's own schema `marts`.
dbt builds and tests the marts in `marts_build`; `publish` copies them into `marts_new` and, in
the same transaction, drops `marts` and renames `marts_new` to it. A BI query sees the old set
or the new one, never a mix, and never a half-built table.

On DuckDB (the default) BI tools read a copy (`BI_PATH`). DuckDB lets a file have one
read-write process or many readers, never both, and a BI tool holding a connection to the
working warehouse would make every sync fail. So BI tools never open the warehouse: after each
good build the marts (and the run log, for "data as of" and failures) are copied into a new
file, which then replaces `BI_PATH` in one `os.replace`. A reader sees the old file or the new
one, never a mix, and never a lock: on POSIX an open connection keeps reading the file it
opened. The copy is written in storage version v1.4.0 so BI drivers that bundle an older DuckDB
(1.4, 1.5) open it too.
"""

import errno
import glob
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.pipeline import engine
from orchestration.pipeline.failures import disk_full, disk_full_hint
from orchestration.pipeline.settings import Settings

STORAGE_VERSION = "v1.4.0"
PUBLISHED = {"marts": None, "ops": ("sync_runs",)}  # schema → tables (None: every table)
BUILD_SCHEMA = "marts_build"  # where dbt builds the marts on Postgres (generate_schema_name)
# How long the swap waits for BI queries still reading the old marts; then the publish fails
# (and the next cycle publishes) rather than queueing every new BI query behind it.
SWAP_LOCK_TIMEOUT = "60s"
EXPORT_FORMATS = ("xlsx", "csv", "parquet")
EXCEL_MAX_ROWS = 1_048_575  # a sheet's 1,048,576 rows less the header


@dataclass
class Published:
    tables: int
    rows: int
    seconds: float


def publish(settings: Settings) -> Published:
    """Postgres: swap the tested marts in as schema `marts`. DuckDB: copy the marts into a new
    file and swap it in as `BI_PATH`.

    The new file is written beside `BI_PATH` under one name (the writer lock makes a publish
    the only one), and it and DuckDB's write-ahead log beside it are removed whatever happens,
    so a failed publish (a full disk) leaves nothing behind to fill the disk further; files
    older releases named by process ID are removed too."""
    if settings.engine == "postgres":
        return _swap_schema(settings)
    started = time.perf_counter()
    target = settings.bi_path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    leftovers = [tmp, *target.parent.glob(f".{glob.escape(target.name)}.*.tmp")]
    _remove(leftovers)
    rows = 0
    try:
        with duckdb.connect(str(settings.warehouse_path)) as raw:
            con = engine.Connection(raw, "duckdb")
            tables = _tables(raw)
            con.execute(f"attach ? as bi_new (storage_version '{STORAGE_VERSION}')", [str(tmp)])
            for schema in sorted({s for s, _ in tables}):
                con.execute(f"create schema {con.ident('bi_new', schema)}")
            for schema, table in tables:
                copy = con.ident("bi_new", schema, table)
                con.execute(f"create table {copy} as select * from {con.ident(schema, table)}")
                rows += con.value(f"select count(*) from {copy}")
            con.execute("detach bi_new")
        os.replace(tmp, target)
    except (OSError, duckdb.Error) as exc:
        if disk_full(exc):
            raise OSError(errno.ENOSPC, f"publishing the BI copy failed: "
                                        f"{disk_full_hint(target.parent)}") from exc
        raise
    finally:
        _remove([tmp])
    return Published(len(tables), rows, time.perf_counter() - started)


def _remove(files: list[Path]) -> None:
    """Each file and the write-ahead log DuckDB keeps beside it, where they exist."""
    for path in files:
        for leftover in (path, path.with_name(path.name + ".wal")):
            leftover.unlink(missing_ok=True)


def _swap_schema(settings: Settings) -> Published:
    started, rows = time.perf_counter(), 0
    with engine.connect(settings) as con:  # one transaction: readers see all of it or none
        tables = [t for (t,) in con.rows(
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_type = 'BASE TABLE' order by 1", [BUILD_SCHEMA])]
        if not tables:
            raise RuntimeError("the warehouse has no marts yet: run a sync and a build first")
        con.execute("select set_config('lock_timeout', ?, true)", [SWAP_LOCK_TIMEOUT])
        con.execute("drop schema if exists marts_new cascade")
        con.execute("create schema marts_new")
        for table in tables:
            copy = con.ident("marts_new", table)
            con.execute(f"create table {copy} as table {con.ident(BUILD_SCHEMA, table)}")
            rows += con.value(f"select count(*) from {copy}")
        con.execute("drop schema if exists marts cascade")
        con.execute("alter schema marts_new rename to marts")
    return Published(len(tables), rows, time.perf_counter() - started)


def _tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    found = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database() and table_type = 'BASE TABLE' "
        "order by 1, 2"
    ).fetchall()
    tables = [
        (schema, table)
        for schema, table in found
        if schema in PUBLISHED and (PUBLISHED[schema] is None or table in PUBLISHED[schema])
    ]
    if not any(schema == "marts" for schema, _ in tables):
        raise RuntimeError("the warehouse has no marts yet: run a sync and a build first")
    return tables


@contextmanager
def connect(settings: Settings) -> Iterator[engine.Connection]:
    """A read-only connection to the published marts (schema `marts`; on DuckDB the copy, with
    the run log `ops.sync_runs` beside them)."""
    if settings.engine == "postgres":
        with engine.connect(settings, read_only=True) as con:
            yield con
        return
    if not settings.bi_path.exists():
        raise FileNotFoundError(
            f"{settings.bi_path} does not exist yet: `bitrix-warehouse sync` publishes it"
        )
    with duckdb.connect(str(settings.bi_path), read_only=True) as raw:
        yield engine.Connection(raw, "duckdb")


def location(settings: Settings) -> str:
    """Where BI tools find the published marts, for people (no password)."""
    if settings.engine == "postgres":
        name = engine.postgres_parts(settings.postgres_url)["dbname"]
        return f"schema marts of the PostgreSQL database {name}"
    return str(settings.bi_path)


def published(settings: Settings) -> bool:
    """Whether the marts have been published yet."""
    if settings.engine == "duckdb":
        return settings.bi_path.exists()
    with engine.connect(settings, read_only=True) as con:
        return bool(con.value("select count(*) from information_schema.schemata "
                              "where schema_name = 'marts'"))


def marts(settings: Settings) -> list[str]:
    with connect(settings) as con:
        return [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' order by 1"
            ).fetchall()
        ]


def export(settings: Settings, mart: str, fmt: str, out: Path, progress=None) -> int:
    """Write one mart of the published copy to a file; returns the rows written."""
    available = marts(settings)
    if mart not in available:
        raise ValueError(f"no mart {mart!r}; the marts are: {', '.join(available)}")
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}")
    _writable_folder(out)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with connect(settings) as con:
            rows = con.value(f"select count(*) from {con.ident('marts', mart)}")
            if fmt == "xlsx":
                if rows > EXCEL_MAX_ROWS:
                    raise ValueError(
                        f"{mart} has {rows:,} rows, more than an Excel sheet holds "
                        f"({EXCEL_MAX_ROWS:,}): export it as csv or parquet"
                    )
                _write_xlsx(con, mart, tmp, rows, progress)
            elif con.engine == "duckdb":
                options = "format csv, header true" if fmt == "csv" else "format parquet"
                con.execute(f"copy (select * from {con.ident('marts', mart)}) to ? ({options})",
                            [str(tmp)])
            else:
                _write_arrow(con, mart, tmp, fmt)
        os.replace(tmp, out)
    except (OSError, duckdb.Error) as exc:
        if disk_full(exc):
            raise OSError(errno.ENOSPC, f"the export failed: {disk_full_hint(out.parent)}") \
                from exc
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return rows


def _writable_folder(out: Path) -> None:
    """`out`'s folder, created if missing; a clear error when a file stands in its way."""
    for folder in (out.parent, *out.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise ValueError(f"cannot write {out}: {folder} is a file, not a folder")
            break
    if out.is_dir():
        raise ValueError(f"cannot write {out}: it is a folder; name a file")
    out.parent.mkdir(parents=True, exist_ok=True)


def _write_xlsx(con, mart: str, path: Path, rows: int, progress) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)  # streams rows: memory stays flat on big marts
    sheet = book.create_sheet(mart[:31])
    cursor = con.execute(f"select * from {con.ident('marts', mart)}")
    sheet.append([d[0] for d in cursor.description])
    done = 0
    while batch := cursor.fetchmany(10_000):
        for row in batch:
            sheet.append([_cell(v) for v in row])
        done += len(batch)
        if progress:
            progress(done, rows)
    book.save(path)


def _write_arrow(con: engine.Connection, mart: str, path: Path, fmt: str) -> None:
    """A Postgres mart as csv or parquet, streamed in batches through Arrow."""
    import pyarrow as pa
    from pyarrow import csv, parquet

    cursor = con.raw.cursor(name="export")  # server-side: rows arrive in batches
    cursor.itersize = 10_000
    cursor.execute(f"select * from {con.ident('marts', mart)}")
    batch = cursor.fetchmany(10_000)
    names = [d[0] for d in cursor.description]
    # an empty mart still gets its columns (a csv header; a parquet file of no rows)
    table = (pa.Table.from_pylist([dict(zip(names, row, strict=True)) for row in batch]) if batch
             else pa.table({name: pa.array([], pa.null()) for name in names}))
    writer = (csv.CSVWriter(path, table.schema) if fmt == "csv"
              else parquet.ParquetWriter(path, table.schema))
    with writer:
        writer.write_table(table)
        while batch := cursor.fetchmany(10_000):
            table = pa.Table.from_pylist([dict(zip(names, row, strict=True)) for row in batch])
            writer.write_table(table.cast(writer.schema) if fmt == "parquet" else table)


def _cell(value):
    """A value Excel can hold: lists (e.g. example IDs) become comma-separated text."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return str(value)
    return value


def text_table(header: list[str], rows: list) -> list[str]:
    """Rows as aligned text lines, for the terminal."""
    text = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in text)]) for i, h in enumerate(header)]
    lines = ["  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in text]
    return lines
