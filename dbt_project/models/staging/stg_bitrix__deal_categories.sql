with

source as (
    {{ portal_union('deal_categories') }}
),

renamed as (
    select
        portal,
        id as pipeline_id,
        name as pipeline_name,
        sort as sort_order,
        is_default = 'Y' as is_default,
        coalesce(is_deleted, false) as is_deleted
    from source
)

select * from renamed
