-- The stays of live leads and deals (deleted records and recurring templates left out).
with

stays as (
    select * from {{ ref('int_stage_intervals') }}
),

live as (
    select portal, entity, record_id from {{ ref('int_funnel_records') }}
),

final as (
    select {{ star_except(ref('int_stage_intervals'), ['last_loaded_at'], 'stays') }}
    from stays
    where exists (
        select 1 from live
        where stays.portal = live.portal
            and stays.entity = live.entity and stays.record_id = live.record_id
    )
)

select * from final
