with

source as (
    {{ portal_union('deal_versions') }}
),

renamed as (
    select
        portal,
        version_key,
        id as deal_id,
        assigned_by_id as manager_id,
        category_id as pipeline_id,
        stage_id,
        stage_semantic_id,
        cast(opportunity as decimal(18, 2)) as amount,
        nullif(upper(currency_id), '') as currency,
        {{ utc('date_create') }} as created_at,
        {{ utc('date_modify') }} as modified_at,
        {{ utc('observed_at') }} as observed_at,
        {{ loaded_at() }} as loaded_at
    from source
)

select * from renamed
