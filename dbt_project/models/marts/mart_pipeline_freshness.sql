-- How fresh the warehouse is, per registered portal and raw table, from the pipeline's own run
-- log: the last successful sync and the portal time its data is complete as of, the newest
-- portal change held, its rows, and how the latest sync ended - so a dashboard can say "data as
-- of" for each portal.
with

runs as (
    select * from {{ ref('stg_ops__sync_runs') }}
    where run_kind = 'sync'
),

last_success as (
    select
        portal,
        max(finished_at) as last_synced_at,
        {{ arg_max('data_as_of', 'finished_at') }} as data_as_of
    from runs
    where run_status = 'success'
    group by portal
),

last_run as (
    select
        portal,
        {{ arg_max('run_status', 'finished_at') }} as last_run_status,
        {{ arg_max('error_message', 'finished_at') }} as last_error
    from runs
    group by portal
),

portal_list as (
    {{ portal_rows() }}
),

counts as (
    select portal, 'leads' as entity, max(modified_at) as newest_modified_at,
        count(*) as row_count
    from {{ ref('stg_bitrix__leads') }}
    group by portal
    union all
    select portal, 'deals', max(modified_at), count(*) from {{ ref('stg_bitrix__deals') }}
    group by portal
    union all
    select portal, 'lead_stage_history', max(entered_at), count(*)
    from {{ ref('stg_bitrix__lead_stage_history') }}
    group by portal
    union all
    select portal, 'deal_stage_history', max(entered_at), count(*)
    from {{ ref('stg_bitrix__deal_stage_history') }}
    group by portal
),

-- every table of every portal, loaded or not
entities as (
    select
        portal_list.portal,
        tables.entity,
        counts.newest_modified_at,
        coalesce(counts.row_count, 0) as row_count
    from portal_list
    cross join (
        select 'leads' as entity union all select 'deals'
        union all select 'lead_stage_history' union all select 'deal_stage_history'
    ) as tables
    left join counts on portal_list.portal = counts.portal and tables.entity = counts.entity
),

final as (
    select
        entities.portal,
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
    left join last_success on entities.portal = last_success.portal
    left join last_run on entities.portal = last_run.portal
)

select * from final
