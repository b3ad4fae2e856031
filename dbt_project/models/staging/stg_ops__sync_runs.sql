with

source as (
    select * from {{ source('ops', 'sync_runs') }}
),

renamed as (
    select
        run_id,
        portal,
        kind as run_kind,
        status as run_status,
        started_at,
        finished_at,
        data_as_of,
        rows_loaded,
        error as error_message
    from source
)

select * from renamed
