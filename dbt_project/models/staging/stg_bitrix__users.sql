with

source as (
    {{ portal_union('users') }}
),

renamed as (
    select
        portal,
        cast(id as bigint) as user_id,
        trim(concat_ws(' ', name, last_name)) as user_name,
        work_position,
        cast(uf_department ->> 0 as bigint) as department_id,
        active as is_active,
        coalesce(is_deleted, false) as is_deleted
    from source
)

select * from renamed
