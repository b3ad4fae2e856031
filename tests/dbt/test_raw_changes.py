"""A routine build after passes that loaded nothing builds only what reads the run log
(`orchestration/pipeline/raw_changes.py`): the marks a load leaves before it commits say when
there is more to build, and a load killed after its commit still gets built."""

from orchestration.pipeline import raw_changes, standing_views, transform
from tests.warehouse import add_lead, sync, sync_killed_after_a_load_job_commits

ROUTINE = transform.Build(data_tests=False)
RUN_LOG_MODELS = {"stg_ops__sync_runs", "mart_pipeline_freshness"}


def built(settings, what: transform.Build = ROUTINE) -> set[str]:
    """The models a routine build ran (a view left as it was counts: dbt visited it)."""
    return {r.node.name for r in transform.build(settings, what)
            if r.node.resource_type == "model"}


def leads(settings) -> set[str]:
    schema = settings.warehouse.build_schema
    with settings.warehouse.connect(read_only=True) as con:
        rows = con.rows(f"select title from {con.ident(schema, 'fct_leads')}")
    return {title for (title,) in rows}


def last_synced(settings):
    schema = settings.warehouse.build_schema
    with settings.warehouse.connect(read_only=True) as con:
        return con.value(f"select max(last_synced_at) from "
                         f"{con.ident(schema, 'mart_pipeline_freshness')}")


def pending(settings):
    """The marks as a build reads them when it starts."""
    with settings.warehouse.connect(read_only=True) as con:
        return raw_changes.pending(con)


def consume(settings, seen) -> None:
    """What a build that succeeded does with the marks it read at its start."""
    with settings.warehouse.connect() as con:
        raw_changes.consume(con, seen)


def test_a_pass_that_loaded_nothing_is_built_into_the_run_log_marts_alone(
        emulator, any_warehouse, monkeypatch):
    add_lead(emulator, "Окна")
    sync(any_warehouse)
    assert "fct_leads" in built(any_warehouse)
    synced = last_synced(any_warehouse)

    assert not any(sync(any_warehouse).values())  # nothing new on the portal
    assert built(any_warehouse) == RUN_LOG_MODELS
    assert last_synced(any_warehouse) > synced  # "data as of" moved all the same
    assert built(any_warehouse, transform.Build()) == RUN_LOG_MODELS  # its data tests too

    add_lead(emulator, "Двери")
    sync(any_warehouse)
    assert "fct_leads" in built(any_warehouse)
    assert leads(any_warehouse) == {"Окна", "Двери"}
    assert pending(any_warehouse) == (0, None)
    # the safety net builds every model whatever the marks say
    assert "fct_leads" in built(any_warehouse, transform.Build(data_tests=False,
                                                               full_refresh=True))
    # the first build of a day builds every model: a deal's days in its stage moved
    monkeypatch.setattr(standing_views, "days", lambda project_vars: ["2099-01-01"])
    sync(any_warehouse)
    assert "fct_deals" in built(any_warehouse)
    assert built(any_warehouse) == RUN_LOG_MODELS


def test_a_load_killed_after_its_commit_is_built_until_a_run_records_it(emulator,
                                                                        any_warehouse):
    add_lead(emulator, "Окна")
    sync(any_warehouse)
    built(any_warehouse)
    add_lead(emulator, "Двери")
    sync_killed_after_a_load_job_commits(any_warehouse, emulator)
    marks, closed = pending(any_warehouse)
    assert marks >= 1 and closed is None  # open: the run never got to record itself
    # the killed run committed rows no mart holds yet: every model is built, twice over, since
    # an open mark is never taken for built (its load might still be committing)
    assert "fct_leads" in built(any_warehouse)
    assert "fct_leads" in built(any_warehouse)

    sync(any_warehouse)  # loads what the kill left, records its run: the marks close
    assert "fct_leads" in built(any_warehouse)
    assert leads(any_warehouse) == {"Окна", "Двери"}
    assert pending(any_warehouse) == (0, None)
    sync(any_warehouse)
    assert built(any_warehouse) == RUN_LOG_MODELS


def test_a_mark_closed_while_a_build_ran_is_left_for_the_next_build(warehouse):
    """PostgreSQL lets a portal load beside a build: a load that closes its mark after the
    build started may have committed after the build read its rows."""
    with warehouse.warehouse.connect() as con:
        raw_changes.open_mark(con, "main")  # main's load, committing
        raw_changes.open_mark(con, "north")
        raw_changes.close_marks(con, "north")  # north's, recorded
    seen = pending(warehouse)  # a build starts
    assert seen[0] == 2 and seen[1] is not None
    with warehouse.warehouse.connect() as con:
        raw_changes.close_marks(con, "main")  # main's run recorded while the build runs
    consume(warehouse, seen)  # the build succeeded
    left = pending(warehouse)
    assert left[0] == 1 and left[1] > seen[1]
    consume(warehouse, left)  # the next build
    assert pending(warehouse) == (0, None)
