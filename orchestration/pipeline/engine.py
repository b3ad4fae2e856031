"""The warehouse's database, whichever engine holds it (`Settings.engine`): one way to open it,
run SQL and read rows, for the run log, `status`, the publish step and the tests.

- `duckdb`: the file at `warehouse_path`, one writer at a time (the writer lock in
  `operations`); BI tools read the published copy (`orchestration.pipeline.bi`).
- `postgres`: the database at `postgres_url`. Many readers and writers at once; BI tools read
  its schema `marts`, which the publish step swaps in whole (`orchestration.pipeline.bi`).

SQL passed here is the part both engines share, with `?` for parameters.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

from orchestration.pipeline.settings import Settings


class Connection:
    """A DB-API connection with DuckDB's `execute(sql, params) → cursor` on both engines."""

    def __init__(self, raw, engine: str) -> None:
        self.raw, self.engine = raw, engine

    def execute(self, sql: str, params: Sequence = ()):
        if self.engine == "duckdb":
            return self.raw.execute(sql, list(params))
        cursor = self.raw.cursor()
        if params:  # psycopg2 formats with %s; a literal % must be doubled then
            cursor.execute(sql.replace("%", "%%").replace("?", "%s"), params)
        else:
            cursor.execute(sql)
        return cursor

    def ident(self, *names: str) -> str:
        """A (qualified) name for SQL text: each part quoted as an identifier by the driver's
        rule (psycopg2's `quote_ident`; DuckDB's parser's, the SQL standard's: in double quotes,
        a quote inside doubled). Names never reach SQL bare."""
        if self.engine == "postgres":
            from psycopg2.extensions import quote_ident

            return ".".join(quote_ident(name, self.raw) for name in names)
        return ".".join(quote_identifier(name) for name in names)

    def rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        return [tuple(r) for r in self.execute(sql, params).fetchall()]

    def value(self, sql: str, params: Sequence = ()):
        return self.rows(sql, params)[0][0]


def quote_identifier(name: str) -> str:
    """One name as a DuckDB identifier (see `Connection.ident`)."""
    if "\x00" in name:
        raise ValueError("a name with a NUL character")
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def connect(settings: Settings, read_only: bool = False) -> Iterator[Connection]:
    """The warehouse, opened for this block; on Postgres the block is one transaction,
    committed when it ends without an error."""
    if settings.engine == "postgres":
        import psycopg2

        raw = psycopg2.connect(settings.postgres_url, application_name="bitrix-warehouse")
        raw.set_session(readonly=read_only)
        try:
            yield Connection(raw, "postgres")
            raw.commit()
        finally:
            raw.close()
        return
    import duckdb

    if not read_only:
        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse_path), read_only=read_only) as raw:
        yield Connection(raw, "duckdb")


def errors(settings: Settings) -> tuple[type[Exception], ...]:
    """The engine's own error classes (what a failed connection or statement raises)."""
    if settings.engine == "postgres":
        import psycopg2

        return (psycopg2.Error,)
    import duckdb

    return (duckdb.Error,)


def postgres_parts(url: str) -> dict:
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
