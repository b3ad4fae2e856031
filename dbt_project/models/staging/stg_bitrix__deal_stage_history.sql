with

source as (
    {{ portal_union('deal_stage_history') }}
),

renamed as (
    select
        portal,
        id as history_id,
        owner_id as deal_id,
        type_id as record_type,
        category_id as pipeline_id,
        stage_id,
        stage_semantic_id,
        {{ utc('created_time') }} as entered_at,
        {{ loaded_at() }} as loaded_at
    from source
)

select * from renamed
