-- The finished stays of live records in their stages, with the record's funnel, cohort month
-- and credited manager: what the funnel marts take medians of.
with

records as (
    select * from {{ ref('int_funnel_records') }}
),

stays as (
    select * from {{ ref('int_stage_intervals') }}
    where duration_days is not null
),

final as (
    select
        records.portal,
        records.entity,
        records.pipeline_id,
        records.cohort_month,
        records.manager_id,
        stays.stage_id,
        stays.duration_days
    from records
    inner join stays
        on records.portal = stays.portal
        and records.entity = stays.entity and records.record_id = stays.record_id
)

select * from final
