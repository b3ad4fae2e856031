-- Lead and deal stage history in one shape (a lead's funnel is 0: leads have one).
with

lead_history as (
    select
        portal,
        'lead' as entity,
        history_id,
        lead_id as record_id,
        0 as pipeline_id,
        status_id as stage_id,
        status_semantic_id as semantic_id,
        entered_at,
        loaded_at
    from {{ ref('stg_bitrix__lead_stage_history') }}
),

deal_history as (
    select
        portal,
        'deal' as entity,
        history_id,
        deal_id as record_id,
        pipeline_id,
        stage_id,
        stage_semantic_id as semantic_id,
        entered_at,
        loaded_at
    from {{ ref('stg_bitrix__deal_stage_history') }}
),

unioned as (
    select * from lead_history
    union all
    select * from deal_history
)

select * from unioned
