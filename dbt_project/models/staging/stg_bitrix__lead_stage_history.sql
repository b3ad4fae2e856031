with

source as (
    {{ portal_union('lead_stage_history') }}
),

renamed as (
    select
        portal,
        id as history_id,
        owner_id as lead_id,
        type_id as record_type,
        status_id,
        status_semantic_id,
        {{ utc('created_time') }} as entered_at,
        {{ loaded_at() }} as loaded_at
    from source
)

select * from renamed
