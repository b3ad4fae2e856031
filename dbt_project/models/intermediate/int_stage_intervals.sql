{{
    config(
        materialized='incremental',
        unique_key=['portal', 'stay_id'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        pre_hook="{{ rebuild_without('portal') }}",
    )
}}
-- One row per stay of a lead or deal in a stage, deleted records included (fct_stage_intervals
-- keeps the live ones): entered at its history row, left at the next, with the manager of the
-- moment.
-- Incremental: a run rebuilds every stay of the records that got a history row or a version
-- loaded since (or with) the newest load of their portal already built. Safe because a
-- record's stays change only when its history (the open stay closes) or its observed versions
-- (the manager) change. See `loaded_at` for why the mark is per portal and inclusive; a portal
-- not built yet (an empty `this`, a new portal) takes every row.
-- (the inputs are read where they are used, not as CTEs: DuckDB would copy a CTE used twice
-- whole, where a run that takes a few records wants a filtered scan)
with

{% if is_incremental() and has_column(this, 'portal') %}
built as (
    {{ newest_load_built() }}
),

touched as (
    select history.portal, history.entity, history.record_id
    from {{ ref('int_stage_history_unioned') }} as history
    left join built on built.portal = history.portal
    where {{ loaded_since('history.loaded_at') }}
    union
    select managers.portal, managers.entity, managers.record_id
    from {{ ref('int_manager_versions') }} as managers
    left join built on built.portal = managers.portal
    where {{ loaded_since('managers.loaded_at') }}
),

scoped as (
    select history.*
    from {{ ref('int_stage_history_unioned') }} as history
    where exists (
        select 1 from touched
        where history.portal = touched.portal
            and history.entity = touched.entity and history.record_id = touched.record_id
    )
),

scoped_managers as (
    select managers.*
    from {{ ref('int_manager_versions') }} as managers
    where exists (
        select 1 from touched
        where managers.portal = touched.portal
            and managers.entity = touched.entity and managers.record_id = touched.record_id
    )
),
{% else %}
scoped as (
    select * from {{ ref('int_stage_history_unioned') }}
),

scoped_managers as (
    select * from {{ ref('int_manager_versions') }}
),
{% endif %}

first_managers as (
    select portal, entity, record_id, manager_id
    from (
        select
            portal, entity, record_id, manager_id,
            row_number() over (
                partition by portal, entity, record_id order by modified_at, version_key
            ) as version_number
        from scoped_managers
    ) as numbered
    where version_number = 1
),

record_loads as (
    select portal, entity, record_id, max(loaded_at) as last_loaded_at
    from (
        select portal, entity, record_id, loaded_at from scoped
        union all
        select portal, entity, record_id, loaded_at from scoped_managers
    ) as loads
    group by portal, entity, record_id
),

stays as (
    select
        portal,
        entity,
        record_id,
        history_id,
        pipeline_id,
        stage_id,
        semantic_id,
        entered_at,
        lead(entered_at) over record_order as exited_at,
        lead(stage_id) over record_order as next_stage_id
    from scoped
    window record_order as (
        partition by portal, entity, record_id order by entered_at, history_id
    )
),

-- the manager of the newest version observed at or before the stay began; a stay older than
-- every observed version (history from before the first sync) gets the oldest version's
with_managers as (
    select
        stays.*,
        coalesce(managers.manager_id, first_managers.manager_id) as manager_id,
        record_loads.last_loaded_at
    from stays
    {% if target.type == 'duckdb' -%}
    asof left join scoped_managers as managers
        on stays.portal = managers.portal
        and stays.entity = managers.entity
        and stays.record_id = managers.record_id
        and stays.entered_at >= managers.modified_at
    {%- else -%}
    left join lateral (
        -- the table itself, not the CTE: Postgres materializes a CTE used twice, and a
        -- lateral scan of it per stay is quadratic; the table's index makes it one probe
        select manager_id from {{ ref('int_manager_versions') }} as observed
        where observed.portal = stays.portal
            and observed.entity = stays.entity
            and observed.record_id = stays.record_id
            and observed.modified_at <= stays.entered_at
        order by observed.modified_at desc, observed.version_key desc
        limit 1
    ) as managers on true
    {%- endif %}
    left join first_managers
        on stays.portal = first_managers.portal
        and stays.entity = first_managers.entity
        and stays.record_id = first_managers.record_id
    inner join record_loads
        on stays.portal = record_loads.portal
        and stays.entity = record_loads.entity
        and stays.record_id = record_loads.record_id
),

final as (
    select
        portal,
        entity || '-' || history_id as stay_id,
        entity,
        record_id,
        pipeline_id,
        stage_id,
        semantic_id,
        entered_at,
        exited_at,
        next_stage_id,
        exited_at is null as is_current,
        {{ elapsed('entered_at', 'exited_at', 86400, 4) }} as duration_days,
        manager_id,
        last_loaded_at
    from with_managers
)

select * from final
