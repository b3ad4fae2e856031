with

source as (
    select * from {{ source('bitrix', 'users') }}
),

renamed as (
    select
        cast(id as bigint) as user_id,
        trim(concat_ws(' ', name, last_name)) as user_name,
        work_position,
        active as is_active,
        coalesce(is_deleted, false) as is_deleted
    from source
)

select * from renamed
