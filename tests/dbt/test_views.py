"""Views are recreated only when they would change (`dbt_project/macros/view.sql`), and a
routine build does not even visit those that read only raw tables while nothing they are made
of changed (`orchestration/pipeline/standing_views.py`); whatever changes what a view is still
recreates it."""

import pytest

from orchestration.pipeline import raw_changes, standing_views, transform
from tests.warehouse import sync

ROUTINE = transform.Build(data_tests=False)


def build(settings, what: transform.Build = ROUTINE) -> dict[str, str]:
    """Build; each view's outcome: `UNCHANGED`, or `created` when dbt made it anew."""
    return outcomes(transform.build(settings, what))


def outcomes(results: list) -> dict[str, str]:
    return {r.node.name: "UNCHANGED" if r.message == "UNCHANGED" else "created"
            for r in results if r.node.config.materialized == "view"}


def views_over_tables(settings, results: list) -> set[str]:
    """The views of a build's `results` that read, themselves or through other views, a table
    a build replaces: on PostgreSQL replacing a table drops the views over it (dbt drops the
    old table with CASCADE), so a build recreates them."""
    if settings.engine != "postgres":
        return set()
    nodes = {r.node.unique_id: r.node for r in results}

    def over_a_table(node) -> bool:
        parents = [nodes[p] for p in node.depends_on.nodes if p in nodes]
        return any(p.config.materialized == "table"
                   or (p.config.materialized == "view" and over_a_table(p)) for p in parents)

    return {n.name for n in nodes.values()
            if n.config.materialized == "view" and over_a_table(n)}


def marts(settings) -> dict[str, list]:
    """Marts read through the staging views (and none with the build's clock in it)."""
    schema = settings.warehouse.build_schema
    with settings.warehouse.connect(read_only=True) as con:
        return {m: sorted(con.rows(f"select * from {con.ident(schema, m)}"), key=repr)
                for m in ("fct_leads", "mart_lead_sources_daily", "dim_managers")}


def manifest_of(settings):
    """The parsed project the builds of `settings` used."""
    return transform._MANIFESTS[transform._manifest_key(settings)]


def marked(settings) -> None:
    """As a load that committed rows leaves the warehouse (`raw_changes`), with the rows left
    as they were: the next routine build builds every model but the standing views."""
    with settings.warehouse.connect() as con:
        raw_changes.open_mark(con, "main")
        raw_changes.close_marks(con, "main")


def fingerprint_now(settings) -> str:
    """What the standing views of `settings` are made of, as a routine build compares it."""
    project_vars = transform.dbt_vars(settings)
    with settings.warehouse.connect(read_only=True) as con:
        return standing_views.fingerprint(con, manifest_of(settings),
                                          transform._manifest_key(settings), project_vars,
                                          standing_views.days(project_vars))


def test_a_routine_build_leaves_views_as_they_are_and_a_change_recreates_them(
        emulator, any_warehouse):
    emulator.call("crm.lead.add", {"fields": {"TITLE": "Окна", "SOURCE_ID": "WEB"}})
    sync(any_warehouse)
    results = transform.build(any_warehouse, ROUTINE)
    first = outcomes(results)
    assert set(first.values()) == {"created"} and len(first) > 10, first
    before = marts(any_warehouse)
    manifest = manifest_of(any_warehouse)
    views = set(first)
    left_out = {view.name for view in standing_views.standing(manifest)}
    assert "stg_bitrix__leads" in left_out and "int_deals_classified" not in left_out
    assert len(left_out) > len(views) / 2, left_out  # most views read only raw tables

    # nothing they are made of changed: the standing views are not visited, the others are
    # left as they are, or made again on PostgreSQL where they read a table dbt replaced
    recreated = views_over_tables(any_warehouse, results)
    marked(any_warehouse)
    again = build(any_warehouse)
    assert set(again) == views - left_out
    assert {v for v, outcome in again.items() if outcome == "created"} == recreated
    assert marts(any_warehouse) == before

    # a routine build with data tests runs every one of them, the left-out views' included
    marked(any_warehouse)
    with_tests = transform.build(any_warehouse, transform.Build())
    assert {r.node.unique_id for r in with_tests if r.node.resource_type == "test"} == {
        uid for uid, node in manifest.nodes.items() if node.resource_type == "test"}
    assert not {r.node.name for r in with_tests} & left_out

    # a view gone (dropped by hand, or with a table it read) is made again
    with any_warehouse.warehouse.connect() as con:
        con.execute(f"drop view {con.ident('staging', 'stg_bitrix__leads')} cascade")
        # a view another release made: its SQL's fingerprint differs from this one's
        con.execute(f"comment on view {con.ident('staging', 'stg_bitrix__deals')} is 'dbt view 0'")
    changed = build(any_warehouse)
    assert set(changed) == views
    assert changed["stg_bitrix__leads"] == changed["stg_bitrix__deals"] == "created"
    assert changed["stg_bitrix__users"] == "UNCHANGED"
    assert marts(any_warehouse) == before
    marked(any_warehouse)
    assert set(build(any_warehouse)) == views - left_out

    # a column the load added to a raw table (a field new to the portal) changes what the
    # standing views are made of, so the next routine build visits every view (as above)
    target = transform.target_of(any_warehouse)
    kept = standing_views.kept(target)
    assert kept == fingerprint_now(any_warehouse)
    with any_warehouse.warehouse.connect() as con:
        con.execute(f"alter table {con.ident('bitrix_raw', 'users')} add column uf_new text")
    assert fingerprint_now(any_warehouse) not in (kept, None)

    # a build that failed leaves nothing to trust: it forgets the fingerprint, so the next
    # build visits every view, even once the warehouse is as it was
    with any_warehouse.warehouse.connect() as con:
        con.execute(f"alter table {con.ident('bitrix_raw', 'users')} rename to users_away")
    with pytest.raises(transform.BuildFailed, match="users"):
        build(any_warehouse)
    assert standing_views.kept(target) is None
    with any_warehouse.warehouse.connect() as con:
        con.execute(f"alter table {con.ident('bitrix_raw', 'users_away')} rename to users")

    if any_warehouse.engine == "postgres":
        # a view that returns other columns than its SQL does now (replaced by hand, its
        # comment kept) is made again. On PostgreSQL only: DuckDB takes a comment as a literal
        # alone, and the macro is the same on both engines.
        with any_warehouse.warehouse.connect() as con:
            users = con.ident("staging", "stg_bitrix__users")
            comment = con.value("select obj_description(to_regclass(?), 'pg_class')", [users])
            con.execute(f"drop view {users} cascade")
            con.execute(f"create view {users} as select 1 as user_id")
            con.execute(f"comment on view {users} is ?", [comment])
        assert comment.startswith("dbt view ")
        assert build(any_warehouse)["stg_bitrix__users"] == "created"
        assert marts(any_warehouse) == before

    # the safety net recreates every view
    full = build(any_warehouse, transform.Build(data_tests=False, full_refresh=True))
    assert set(full.values()) == {"created"}
    assert marts(any_warehouse) == before
