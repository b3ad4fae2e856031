"""Marts a build replaced that BI tools do not read yet: what lets a publish copy only those.

A publish used to copy every mart, whatever the build before it had changed: after a pass that
loaded nothing, the routine build makes the freshness mart alone (`raw_changes`), and the
publish still copied every fact table (4.5 s a cycle at demo scale 10 on DuckDB).

A build marks the warehouse *before* dbt runs: every mart may change (`EVERY`; a build killed
after its first model leaves that mark). When dbt ran to its end, failures or not, the mark is
replaced by the marts it ran (`narrow`). A publish copies the marked marts, and any mart the
published set lacks, then deletes the marks it saw (`consume`), in its own transaction on
PostgreSQL and once the new BI file is in place on DuckDB: a publish that failed or was killed
leaves them for the next one. Nothing but a build changes the marts; a warehouse restored from a
backup needs `bitrix-warehouse build --full-refresh`, whose build marks every mart.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from orchestration.pipeline.warehouse import Connection

EVERY = "*"  # the mark of a build that may have replaced any mart
DDL = (
    "create schema if not exists ops",
    "create sequence if not exists ops.mart_change_ids",
    "create table if not exists ops.mart_changes ("
    " id bigint not null,"  # from ops.mart_change_ids
    " mart varchar not null)",  # a model's relation name, or EVERY
)


@dataclass(frozen=True)
class Changes:
    """The marks a publish saw: the marts they name (`every`: any mart), and the highest mark."""

    marts: frozenset[str]
    every: bool
    highest: int | None

    def cover(self, tables: Iterable[str]) -> bool:
        """Whether the marks take in every one of `tables`: a publish then writes the set anew."""
        return self.every or set(tables) <= self.marts

    def plan(self, tables: Iterable[str], published: Iterable[str]) -> tuple[list, list]:
        """(the tables to copy, the published tables to drop): of the marts the build schema
        holds now (`tables`) and those the readers' set holds (`published`)."""
        tables, published = set(tables), set(published)
        copy = tables if self.every else (tables & self.marts) | (tables - published)
        return sorted(copy), sorted(published - tables)


def _mark(con: Connection, marts: Iterable[str]) -> None:
    for statement in DDL:
        con.execute(statement)
    for mart in marts:
        con.execute("insert into ops.mart_changes values (nextval('ops.mart_change_ids'), ?)",
                    [mart])


def open_mark(con: Connection) -> int:
    """Before dbt builds models (under the writer lock): any mart may change. Returns the
    mark's number, for `narrow`."""
    _mark(con, [EVERY])
    return con.value("select max(id) from ops.mart_changes where mart = ?", [EVERY])


def narrow(con: Connection, opened: int, marts: Iterable[str]) -> None:
    """dbt ran to its end: of every mart, only `marts` (the models it ran) may have changed."""
    _mark(con, sorted(set(marts)))
    con.execute("delete from ops.mart_changes where id = ?", [opened])


def pending(con: Connection) -> Changes:
    """The marks now (on the publish's connection); every mart when the warehouse has no
    marks table (no build of this release yet)."""
    if not con.has_table("ops", "mart_changes"):
        return Changes(frozenset(), True, None)
    rows = con.rows("select id, mart from ops.mart_changes")
    marts = frozenset(mart for _, mart in rows)
    return Changes(marts - {EVERY}, EVERY in marts, max((i for i, _ in rows), default=None))


def consume(con: Connection, seen: Changes) -> None:
    """The publish that saw `seen` made them what readers read."""
    if seen.highest is not None:
        con.execute("delete from ops.mart_changes where id <= ?", [seen.highest])
