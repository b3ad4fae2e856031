-- The funnel by cohort and by the one manager credited with each record (leads: the first
-- responsible; deals: the manager at close, or the current one while open). Filtering by a
-- manager never gives a rate above 1, and the managers' counts add up to mart_funnel_conversion.
with

counts as (
    select * from {{ ref('int_funnel_counts') }}
),

medians as (
    select
        portal, entity, pipeline_id, cohort_month, manager_id, stage_id,
        {{ median('duration_days') }} as median_days_in_stage
    from {{ ref('int_funnel_stays') }}
    group by portal, entity, pipeline_id, cohort_month, manager_id, stage_id
),

managers as (
    select * from {{ ref('dim_managers') }}
),

measured as (
    select counts.*, managers.manager_name, medians.median_days_in_stage
    from counts
    left join medians
        on counts.portal = medians.portal
        and counts.entity = medians.entity
        and counts.pipeline_id = medians.pipeline_id
        and counts.cohort_month = medians.cohort_month
        and counts.manager_id is not distinct from medians.manager_id
        and counts.stage_id = medians.stage_id
    left join managers
        on counts.portal = managers.portal and counts.manager_id = managers.manager_id
),

final as (
    {{ funnel_rates('measured', ['portal', 'entity', 'pipeline_id', 'cohort_month',
                                 'manager_id']) }}
)

select * from final
