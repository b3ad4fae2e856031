-- The funnel by cohort: of the leads (deals) created in a month, how many entered each stage,
-- reached it (entered it or any later in-progress or success stage of the funnel) and were lost
-- there, and their median days in it. The sum over managers of mart_funnel_by_manager.
with

counts as (
    select
        portal,
        entity,
        pipeline_id,
        cohort_month,
        stage_id,
        {{ any_value('pipeline_name') }} as pipeline_name,
        {{ any_value('stage_name') }} as stage_name,
        {{ any_value('stage_position') }} as stage_position,
        {{ any_value('semantic_id') }} as semantic_id,
        {{ count_sum('cohort_size') }} as cohort_size,
        {{ count_sum('entered') }} as entered,
        {{ count_sum('reached') }} as reached,
        {{ count_sum('lost_at_stage') }} as lost_at_stage
    from {{ ref('int_funnel_counts') }}
    group by portal, entity, pipeline_id, cohort_month, stage_id
),

medians as (
    select
        portal, entity, pipeline_id, cohort_month, stage_id,
        {{ median('duration_days') }} as median_days_in_stage
    from {{ ref('int_funnel_stays') }}
    group by portal, entity, pipeline_id, cohort_month, stage_id
),

measured as (
    select counts.*, medians.median_days_in_stage
    from counts
    left join medians using (portal, entity, pipeline_id, cohort_month, stage_id)
),

final as (
    {{ funnel_rates('measured', ['portal', 'entity', 'pipeline_id', 'cohort_month']) }}
)

select * from final
