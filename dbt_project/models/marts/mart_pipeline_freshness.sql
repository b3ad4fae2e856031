-- How fresh the warehouse is, per raw table: the last completed load, the newest portal change
-- it holds, and its rows, so a dashboard can say "data as of".
with

loads as (
    select max(inserted_at) as last_synced_at
    from {{ source('bitrix', '_dlt_loads') }}
    where status = 0
),

entities as (
    select 'leads' as entity, max(modified_at) as newest_modified_at, count(*) as row_count
    from {{ ref('stg_bitrix__leads') }}
    union all
    select 'deals', max(modified_at), count(*) from {{ ref('stg_bitrix__deals') }}
    union all
    select 'lead_stage_history', max(entered_at), count(*)
    from {{ ref('stg_bitrix__lead_stage_history') }}
    union all
    select 'deal_stage_history', max(entered_at), count(*)
    from {{ ref('stg_bitrix__deal_stage_history') }}
),

final as (
    select
        entities.entity,
        {{ utc('loads.last_synced_at') }} as last_synced_at,
        entities.newest_modified_at,
        entities.row_count,
        round(date_diff(
            'second', entities.newest_modified_at, {{ utc('loads.last_synced_at') }}
        ) / 60.0, 1) as lag_minutes
    from entities
    cross join loads
)

select * from final
