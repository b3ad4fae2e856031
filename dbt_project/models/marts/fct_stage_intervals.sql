-- The stays of live leads and deals (deleted records and recurring templates left out).
with

stays as (
    select * from {{ ref('int_stage_intervals') }}
),

live as (
    select 'lead' as entity, lead_id as record_id from {{ ref('fct_leads') }}
    union all
    select 'deal' as entity, deal_id as record_id from {{ ref('fct_deals') }}
),

final as (
    select stays.* exclude (last_loaded_at)
    from stays
    semi join live on stays.entity = live.entity and stays.record_id = live.record_id
)

select * from final
