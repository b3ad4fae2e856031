with

source as (
    {{ portal_union('statuses') }}
),

renamed as (
    select
        portal,
        cast(id as bigint) as status_row_id,
        entity_id as dictionary_id,
        status_id,
        name,
        cast(sort as integer) as sort_order,
        cast(category_id as bigint) as pipeline_id,
        coalesce(nullif(semantics, ''), 'P') as semantic_id,
        coalesce(is_deleted, false) as is_deleted
    from source
)

select * from renamed
