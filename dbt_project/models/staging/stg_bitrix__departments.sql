with

source as (
    {{ portal_union('departments') }}
),

renamed as (
    select
        portal,
        cast(id as bigint) as department_id,
        name as department_name,
        cast(parent as bigint) as parent_department_id,
        sort as sort_order,
        coalesce(is_deleted, false) as is_deleted
    from source
)

select * from renamed
