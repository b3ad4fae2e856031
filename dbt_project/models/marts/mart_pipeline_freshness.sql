-- How fresh the warehouse is, per raw table, from the pipeline's own run log: the last
-- successful sync and the portal time its data is complete as of, the newest portal change held,
-- its rows, and how the latest sync ended - so a dashboard can say "data as of".
with

runs as (
    select * from {{ ref('stg_ops__sync_runs') }}
    where run_kind = 'sync'
),

last_success as (
    select
        max(finished_at) as last_synced_at,
        {{ arg_max('data_as_of', 'finished_at') }} as data_as_of
    from runs
    where run_status = 'success'
),

last_run as (
    select
        {{ arg_max('run_status', 'finished_at') }} as last_run_status,
        {{ arg_max('error_message', 'finished_at') }} as last_error
    from runs
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
        last_success.last_synced_at,
        last_success.data_as_of,
        entities.newest_modified_at,
        entities.row_count,
        {{ elapsed('entities.newest_modified_at', 'last_success.data_as_of', 60, 1) }}
            as lag_minutes,
        last_run.last_run_status,
        last_run.last_error,
        {{ utc('current_timestamp') }} as built_at
    from entities
    cross join last_success
    cross join last_run
)

select * from final
