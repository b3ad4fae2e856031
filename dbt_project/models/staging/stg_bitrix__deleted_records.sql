with

source as (
    select * from {{ source('bitrix', 'deleted_records') }}
),

renamed as (
    select
        entity,
        id as record_id,
        is_deleted,
        {{ utc('noticed_at') }} as deleted_noticed_at
    from source
)

select * from renamed
