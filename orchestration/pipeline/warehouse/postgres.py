"""The PostgreSQL engine: the database at `postgres_url` (which holds the password: a secret,
never logged). Many readers and writers at once.

BI tools read the warehouse's own schema `marts`. dbt builds and tests the marts in
`marts_build`; `publish` copies the marts a build replaced into `marts_new` and, in the same
transaction, moves them into `marts` (the first time, or when the build replaced every mart, it
drops `marts` and renames `marts_new` to it). A BI query sees the old set or the
new one, never a mix, and never a half-built table.

A client's role reads only its portals' rows (row-level security): `ops.portal_readers` says
which role reads which portal (`bitrix-warehouse portals grant|revoke`), and every published
mart gets a policy that shows a role the rows of the portals `ops.reader_portals()` names for
the role it logged in as (a function that runs as the owner, so a client reads no mapping). The
pipeline's own role owns the tables and sees every row.
"""

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from orchestration.pipeline import mart_changes
from orchestration.pipeline.warehouse import DEMO_DATABASE, Connection, Published, Warehouse

PASSWORD_ENV = "DBT_ENV_SECRET_POSTGRES_PASSWORD"  # the prefix dbt scrubs from all it prints
# How long the swap waits for BI queries still reading the old marts; then the publish fails
# (and the next cycle publishes) rather than queueing every new BI query behind it.
SWAP_LOCK_TIMEOUT = "60s"
BATCH = 10_000
READERS_DDL = (
    "create schema if not exists ops",
    "create table if not exists ops.portal_readers ("
    " reader name not null, portal text not null, primary key (reader, portal))",
    # session_user: the role the BI tool logged in as (current_user is the owner in here)
    "create or replace function ops.reader_portals() returns setof text"
    " language sql stable security definer set search_path = pg_catalog"
    " as 'select portal from ops.portal_readers where reader = session_user'",
    "revoke all on function ops.reader_portals() from public",
)


def url_parts(url: str) -> dict:
    """A `postgresql://user:password@host:port/database` URL's parts, as dbt's profile takes
    them."""
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or 5432,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "dbname": parts.path.lstrip("/") or unquote(parts.username or ""),
    }


class PostgresConnection(Connection):
    def execute(self, sql: str, params: Sequence = ()):
        cursor = self.raw.cursor()
        if params:  # psycopg2 formats with %s; a literal % must be doubled then
            cursor.execute(sql.replace("%", "%%").replace("?", "%s"), params)
        else:
            cursor.execute(sql)
        return cursor

    def ident(self, *names: str) -> str:
        from psycopg2.extensions import quote_ident

        return ".".join(quote_ident(name, self.raw) for name in names)

    def export(self, relation: str, path: Path, fmt: str) -> None:
        """Streamed from a server-side cursor in batches through Arrow; an empty relation
        still gets its columns (a csv header, a parquet file of no rows)."""
        import pyarrow as pa
        from pyarrow import csv, parquet

        cursor = self.raw.cursor(name="export")
        cursor.itersize = BATCH
        cursor.execute(f"select * from {relation}")
        batch = cursor.fetchmany(BATCH)
        names = [d[0] for d in cursor.description]

        def table(rows):
            return pa.Table.from_pylist([dict(zip(names, row, strict=True)) for row in rows])

        first = table(batch) if batch else pa.table({n: pa.array([], pa.null()) for n in names})
        writer = (csv.CSVWriter(path, first.schema) if fmt == "csv"
                  else parquet.ParquetWriter(path, first.schema))
        with writer:
            writer.write_table(first)
            while batch := cursor.fetchmany(BATCH):
                more = table(batch)
                writer.write_table(more.cast(writer.schema) if fmt == "parquet" else more)


class Postgres(Warehouse):
    name = "postgres"
    build_schema = "marts_build"  # the project's generate_schema_name sends the marts here
    # dlt's own choice there: its csv path loads with COPY … FORCE_NULL, which turns every empty
    # string the portal sent ('' status, title) into NULL, so the marts differed from DuckDB's;
    # its parquet path needs ADBC.
    file_format = "insert_values"

    def __init__(self, settings) -> None:
        if not settings.postgres_url:
            raise ValueError("WAREHOUSE_ENGINE=postgres needs POSTGRES_URL "
                             "(postgresql://user:password@host:port/database)")
        super().__init__(settings)
        self.parts = url_parts(settings.postgres_url)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Connection]:
        import psycopg2

        raw = psycopg2.connect(self.settings.postgres_url, application_name="bitrix-warehouse")
        raw.set_session(readonly=read_only)
        try:
            yield PostgresConnection(raw)
            raw.commit()
        finally:
            raw.close()

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        import psycopg2

        return (psycopg2.Error,)

    @property
    def disk(self) -> Path | str:
        return "the PostgreSQL server's disk"

    def describe(self) -> str:
        return f"the PostgreSQL database {self.parts['dbname']}"

    def destination(self):
        import dlt

        # No UNIQUE on `_dlt_id`, dlt's default here: a job loaded again after a kill (see
        # `resuming`) would break it and leave the package stuck; the merge keeps one row per
        # key without it, as on DuckDB, and every insert skips an index nothing reads.
        return dlt.destinations.postgres(self.settings.postgres_url, create_indexes=False)

    @property
    def dlt_dir(self) -> Path:
        p = self.parts
        return self.settings.dlt_dir / f"postgres_{p['host']}_{p['port']}_{p['dbname']}"

    def loaded(self, schema: str, tables: Sequence[str]) -> None:
        """Fresh statistics for the raw tables a run loaded rows into. Autovacuum gets to them
        later; the dbt build right after a first load would otherwise plan for empty tables."""
        with self.connect() as con:
            for table in sorted(tables):
                con.execute(f"analyze {con.ident(schema, table)}")

    def resuming(self, schema: str) -> None:
        """Drop the UNIQUE constraints on `_dlt_id` that earlier releases let dlt create, in the
        raw tables and their staging copies (see `destination`)."""
        with self.connect() as con:
            for namespace, table, name in con.rows(
                "select n.nspname, t.relname, c.conname from pg_constraint c "
                "join pg_class t on t.oid = c.conrelid "
                "join pg_namespace n on n.oid = t.relnamespace "
                "join pg_attribute a on a.attrelid = c.conrelid and a.attname = '_dlt_id' "
                "where c.contype = 'u' and c.conkey = array[a.attnum] "
                "and n.nspname in (?, ?)", [schema, f"{schema}_staging"]
            ):
                con.execute(f"alter table {con.ident(namespace, table)} "
                            f"drop constraint {con.ident(name)}")

    def dbt_vars(self) -> dict[str, str]:
        return super().dbt_vars() | {f"postgres_{k}": v for k, v in self.parts.items()
                                     if k != "password"}

    def dbt_target(self) -> list[str]:
        # The password goes through the environment (this process's: dbt runs here; a `dbt`
        # subprocess, as the tests run, inherits it) under the prefix dbt scrubs from all it
        # prints.
        os.environ[PASSWORD_ENV] = self.parts["password"]
        return ["--target", "postgres"]

    @property
    def database(self) -> str:
        return self.parts["dbname"]

    def publish(self) -> Published:
        """Copy the marts a build replaced since the last publish (`mart_changes`) into
        `marts`, in one transaction: readers see all of it or none. When the build replaced
        every mart, or `marts` does not exist yet, the whole set is copied into a new schema
        that is swapped in."""
        started, rows = time.perf_counter(), 0
        with self.connect() as con:
            tables = _tables(con, self.build_schema)
            if not tables:
                raise RuntimeError("the warehouse has no marts yet: run a sync and a build first")
            con.execute("select set_config('lock_timeout', ?, true)", [SWAP_LOCK_TIMEOUT])
            changes = mart_changes.pending(con)
            published = [] if changes.cover(tables) else _tables(con, "marts")
            copy, drop = changes.plan(tables, published)
            con.execute("drop schema if exists marts_new cascade")
            con.execute("create schema marts_new")
            for table in copy:
                new = con.ident("marts_new", table)
                con.execute(f"create table {new} as table {con.ident(self.build_schema, table)}")
                rows += con.value(f"select count(*) from {new}")
            if published:  # the changed marts move into `marts`
                for table in [*drop, *copy]:
                    con.execute(f"drop table if exists {con.ident('marts', table)} cascade")
                for table in copy:
                    con.execute(f"alter table {con.ident('marts_new', table)} set schema marts")
                con.execute("drop schema marts_new")
            else:  # the whole set, swapped in
                con.execute("drop schema if exists marts cascade")
                con.execute("alter schema marts_new rename to marts")
            _secure(con, "marts", copy)
            mart_changes.consume(con, changes)
        return Published(len(copy), rows, time.perf_counter() - started, tuple(copy))

    def readers(self, portal: str, reader: str, allow: bool) -> None:
        with self.connect() as con:
            for statement in READERS_DDL:
                con.execute(statement)
            if not con.value("select count(*) from pg_roles where rolname = ?", [reader]):
                raise ValueError(f"no role {reader!r} in {self.describe()}: create it first "
                                 f"(create role {reader} login password '…')")
            if allow:
                con.execute("insert into ops.portal_readers values (?, ?) on conflict do nothing",
                            [reader, portal])
            else:
                con.execute("delete from ops.portal_readers where reader = ? and portal = ?",
                            [reader, portal])
            published = _tables(con, "marts")
            if published:  # else the first publish secures them
                _secure(con, "marts", published)

    def read_published(self):
        return self.connect(read_only=True)

    def is_published(self) -> bool:
        with self.connect(read_only=True) as con:
            return bool(con.value("select count(*) from information_schema.schemata "
                                  "where schema_name = 'marts'"))

    def location(self) -> str:
        return f"schema marts of {self.describe()}"

    def reader_hint(self) -> str:
        from sources.bitrix24.errors import redact_webhooks

        return f"""
Point a BI tool (Superset, DataLens, Metabase, DBeaver) at PostgreSQL, schema marts:
  {redact_webhooks(self.settings.postgres_url)}   (the password: `bitrix-warehouse postgres url`)
Every sync swaps the tested marts in whole; readers never see a half-built set."""

    @classmethod
    def demo(cls, settings, echo: Callable[[str], None]):
        """The demo's database on the server of POSTGRES_URL, or on the local server
        (`bitrix-warehouse postgres start`) when none is set, made empty."""
        from orchestration.pipeline.warehouse import local_postgres

        server = settings.postgres_url or local_postgres.local_server().start().url()
        echo(f"Making the demo's database {DEMO_DATABASE} on PostgreSQL…")
        return replace(settings, engine=cls.name,
                       postgres_url=local_postgres.recreate_database(server, DEMO_DATABASE))


def _tables(con: Connection, schema: str) -> list[str]:
    return [t for (t,) in con.rows(
        "select table_name from information_schema.tables where table_schema = ? "
        "and table_type = 'BASE TABLE' order by 1", [schema])]


def _secure(con: Connection, schema: str, tables: Sequence[str]) -> None:
    """Row-level security on `schema`'s marts: each reader of `ops.portal_readers` may read
    them, and sees only its portals' rows (the owner sees all). Run on every publish: the swap
    makes the tables anew."""
    if not con.value("select to_regclass('ops.portal_readers') is not null"):
        return  # no reader was ever granted a portal
    readers = [r for (r,) in con.rows("select distinct reader from ops.portal_readers")]
    for reader in readers:
        con.execute(f"grant usage on schema {con.ident(schema)}, ops to {con.ident(reader)}")
        con.execute(f"grant execute on function ops.reader_portals() to {con.ident(reader)}")
    for table in tables:
        name = con.ident(schema, table)
        con.execute(f"alter table {name} enable row level security")
        con.execute(f"drop policy if exists portal_readers on {name}")
        con.execute(f"create policy portal_readers on {name} for select"
                    " using (portal in (select ops.reader_portals()))")
        for reader in readers:
            con.execute(f"grant select on {name} to {con.ident(reader)}")
