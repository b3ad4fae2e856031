"""Raw changes the marts do not hold yet: what lets a routine build with nothing new to build
build only what reads the run log.

Every pass records a run, and most passes of a quiet portal load no rows; a routine build after
them used to rebuild every mart from the same raw rows. A load marks the warehouse *before* it
commits rows (`open_mark`: a kill between its commit and anything after it leaves the mark), and
closes its portal's marks when its run is recorded (`close_marks`, after every commit of the
run). A routine build with no mark at all has nothing new to build (`transform.build`); one
with marks builds every model (but the views that cannot have changed) and, once it
succeeded, deletes the closed marks it saw at its start (`consume`).

A mark that closes gets a new number from the sequence: a load that committed while a build
was running (PostgreSQL lets a portal load beside a build) closes with a number above what
that build saw, so the build leaves the mark for the next one. An open mark is never deleted:
the run that opened it may be committing still, or was killed after committing; the portal's
next recorded run closes it, and the build after that builds its rows.
"""

from orchestration.pipeline.warehouse import Connection

DDL = (
    "create schema if not exists ops",
    "create sequence if not exists ops.raw_change_ids",
    "create table if not exists ops.raw_changes ("
    " id bigint not null,"  # from ops.raw_change_ids: when opened, then again when closed
    " portal varchar not null,"
    " closed boolean not null)",
)


def open_mark(con: Connection, portal: str) -> None:
    """Before a load commits rows of `portal` (on the connection the writer holds)."""
    for statement in DDL:
        con.execute(statement)
    con.execute("insert into ops.raw_changes (id, portal, closed) "
                "values (nextval('ops.raw_change_ids'), ?, false)", [portal])


def close_marks(con: Connection, portal: str) -> None:
    """When `portal`'s run is recorded: every load of it before now has committed or died."""
    for statement in DDL:
        con.execute(statement)
    con.execute("update ops.raw_changes set id = nextval('ops.raw_change_ids'), closed = true "
                "where portal = ? and not closed", [portal])


def pending(con: Connection) -> tuple[int, int | None] | None:
    """(marks, the highest closed mark) now, on the build's connection; None when the
    warehouse has no marks table (no load of this release yet)."""
    if not con.has_table("ops", "raw_changes"):
        return None
    marks, highest = con.rows("select count(*), max(case when closed then id end) "
                              "from ops.raw_changes")[0]
    return int(marks), highest


def consume(con: Connection, seen: tuple[int, int | None] | None) -> None:
    """After a routine build succeeded: the closed marks it saw at its start are built."""
    if seen and seen[1] is not None:
        con.execute("delete from ops.raw_changes where closed and id <= ?", [seen[1]])
