{{
    config(
        materialized='incremental',
        unique_key='stay_id',
        incremental_strategy='delete+insert',
    )
}}
-- One row per stay of a lead or deal in a stage: entered at its history row, left at the next.
-- Incremental: a run rebuilds the stays of records that have history rows newer than the
-- newest stay already built, minus a day of look-back; that is safe because a record's stays
-- only change when a new history row of that record arrives (its open stay then closes).
with

history as (
    select * from {{ ref('int_stage_history_unioned') }}
),

{% if is_incremental() %}
touched as (
    select distinct entity, record_id
    from history
    where entered_at >= (select max(entered_at) - interval 1 day from {{ this }})
),

scoped as (
    select history.*
    from history
    semi join touched
        on history.entity = touched.entity and history.record_id = touched.record_id
),
{% else %}
scoped as (
    select * from history
),
{% endif %}

managers as (
    select * from {{ ref('int_manager_versions') }}
),

current_managers as (
    select 'lead' as entity, lead_id as record_id, manager_id
    from {{ ref('stg_bitrix__leads') }}
    union all
    select 'deal' as entity, deal_id as record_id, manager_id
    from {{ ref('stg_bitrix__deals') }}
),

stays as (
    select
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
    window record_order as (partition by entity, record_id order by entered_at, history_id)
),

-- the manager of the newest version observed at or before the stay began
with_managers as (
    select
        stays.*,
        coalesce(managers.manager_id, current_managers.manager_id) as manager_id
    from stays
    asof left join managers
        on stays.entity = managers.entity
        and stays.record_id = managers.record_id
        and stays.entered_at >= managers.modified_at
    left join current_managers
        on stays.entity = current_managers.entity
        and stays.record_id = current_managers.record_id
),

final as (
    select
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
        round(date_diff('second', entered_at, exited_at) / 86400.0, 4) as duration_days,
        manager_id
    from with_managers
)

select * from final
