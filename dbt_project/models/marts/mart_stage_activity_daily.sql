-- What happened on a day (активность по стадиям): per day × lead/deal × funnel × stage × the
-- responsible at the time, how many records entered the stage that day - whenever they were
-- created, unlike the cohort view of mart_funnel_conversion.
with

stays as (
    select * from {{ ref('fct_stage_intervals') }}
),

stages as (
    select * from {{ ref('int_stages_ordered') }}
),

managers as (
    select * from {{ ref('dim_managers') }}
),

final as (
    select
        stays.portal,
        {{ portal_date('stays.entered_at', 'stays.portal') }} as activity_date,
        stays.entity,
        stays.pipeline_id,
        stays.stage_id,
        {{ any_value('stages.pipeline_name') }} as pipeline_name,
        {{ any_value('stages.stage_name') }} as stage_name,
        {{ any_value('stays.semantic_id') }} as semantic_id,
        stays.manager_id,
        {{ any_value('managers.manager_name') }} as manager_name,
        count(*) as entries,
        count(distinct stays.record_id) as records_entered
    from stays
    left join stages
        on stays.portal = stages.portal
        and stays.entity = stages.entity
        and stays.pipeline_id = stages.pipeline_id
        and stays.stage_id = stages.stage_id
    left join managers
        on stays.portal = managers.portal and stays.manager_id = managers.manager_id
    group by 1, 2, 3, 4, 5, 9
)

select * from final
