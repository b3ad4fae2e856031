with

source as (
    {{ portal_union('deleted_records') }}
),

renamed as (
    select
        portal,
        entity,
        id as record_id,
        is_deleted,
        {{ utc('noticed_at') }} as deleted_noticed_at,
        {{ loaded_at() }} as loaded_at
    from source
)

select * from renamed
