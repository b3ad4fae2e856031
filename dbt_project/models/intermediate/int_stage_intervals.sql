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
-- loaded since the newest load already built. Safe because a record's stays change only when
-- its history (the open stay closes) or its observed versions (the manager) change, and load
-- times only grow; on an empty `this` (a first build with no history yet) it takes them all.
with

history as (
    select * from {{ ref('int_stage_history_unioned') }}
),

managers as (
    select * from {{ ref('int_manager_versions') }}
),

{% if is_incremental() and has_column(this, 'portal') %}
built as (
    select coalesce(max(last_loaded_at), timestamp '1970-01-01') as last_loaded_at
    from {{ this }}
),

touched as (
    select portal, entity, record_id from history
    where loaded_at > (select last_loaded_at from built)
    union
    select portal, entity, record_id from managers
    where loaded_at > (select last_loaded_at from built)
),

scoped as (
    select history.*
    from history
    where exists (
        select 1 from touched
        where history.portal = touched.portal
            and history.entity = touched.entity and history.record_id = touched.record_id
    )
),
{% else %}
scoped as (
    select * from history
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
        from managers
    ) as numbered
    where version_number = 1
),

record_loads as (
    select portal, entity, record_id, max(loaded_at) as last_loaded_at
    from (
        select portal, entity, record_id, loaded_at from scoped
        union all
        select portal, entity, record_id, loaded_at from managers
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
    asof left join managers
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
