-- The funnel by cohort: of the leads (deals) created in a month, how many entered each stage,
-- how many reached it (entered it or any later in-progress or success stage of the funnel, so a
-- deal won without passing «Квалификация» still reached it), and how many were lost there.
-- A record counts once per stage; `reached` never grows along the funnel, so no rate exceeds 1.
with

leads as (
    select 'lead' as entity, lead_id as record_id, 0 as pipeline_id, created_date
    from {{ ref('fct_leads') }}
    where not is_deleted
),

deals as (
    select 'deal' as entity, deal_id as record_id, pipeline_id, created_date
    from {{ ref('fct_deals') }}
    where not is_deleted and not is_recurring_template
),

records as (
    select entity, record_id, pipeline_id, date_trunc('month', created_date) as cohort_month
    from (select * from leads union all select * from deals)
),

stages as (
    select * from {{ ref('int_stages_ordered') }}
),

stays as (
    select * from {{ ref('fct_stage_intervals') }}
),

visits as (
    select distinct
        records.entity,
        records.record_id,
        records.pipeline_id,
        records.cohort_month,
        stages.stage_id,
        stages.stage_position,
        stages.semantic_id
    from records
    inner join stays
        on records.entity = stays.entity and records.record_id = stays.record_id
    inner join stages
        on records.entity = stages.entity
        and records.pipeline_id = stages.pipeline_id
        and stays.stage_id = stages.stage_id
),

furthest as (
    select entity, record_id, max(stage_position) as furthest_position
    from visits
    where semantic_id in ('P', 'S')
    group by all
),

losses as (
    -- the in-progress stage a record left for a failure stage
    select distinct records.entity, records.record_id, stays.stage_id
    from records
    inner join stays on records.entity = stays.entity and records.record_id = stays.record_id
    inner join stages as next_stage
        on records.entity = next_stage.entity
        and records.pipeline_id = next_stage.pipeline_id
        and stays.next_stage_id = next_stage.stage_id
    where next_stage.semantic_id = 'F' and stays.semantic_id = 'P'
),

cohorts as (
    select entity, pipeline_id, cohort_month, count(*) as cohort_size
    from records
    group by all
),

grid as (
    select cohorts.*, stages.stage_id, stages.stage_name, stages.stage_position, stages.semantic_id
    from cohorts
    inner join stages
        on cohorts.entity = stages.entity and cohorts.pipeline_id = stages.pipeline_id
),

measured as (
    select
        grid.entity,
        grid.pipeline_id,
        grid.cohort_month,
        grid.stage_id,
        grid.stage_name,
        grid.stage_position,
        grid.semantic_id,
        grid.cohort_size,
        (
            select count(*) from visits
            where visits.entity = grid.entity and visits.pipeline_id = grid.pipeline_id
                and visits.cohort_month = grid.cohort_month and visits.stage_id = grid.stage_id
        ) as entered,
        case
            when grid.semantic_id = 'F' then (
                select count(*) from visits
                where visits.entity = grid.entity and visits.pipeline_id = grid.pipeline_id
                    and visits.cohort_month = grid.cohort_month
                    and visits.stage_id = grid.stage_id
            )
            else (
                select count(*) from records
                inner join furthest
                    on records.entity = furthest.entity and records.record_id = furthest.record_id
                where records.entity = grid.entity and records.pipeline_id = grid.pipeline_id
                    and records.cohort_month = grid.cohort_month
                    and furthest.furthest_position >= grid.stage_position
            )
        end as reached,
        (
            select count(*) from losses
            inner join records
                on losses.entity = records.entity and losses.record_id = records.record_id
            where records.entity = grid.entity and records.pipeline_id = grid.pipeline_id
                and records.cohort_month = grid.cohort_month and losses.stage_id = grid.stage_id
        ) as lost_at_stage,
        (
            select median(stays.duration_days) from stays
            inner join records
                on stays.entity = records.entity and stays.record_id = records.record_id
            where records.entity = grid.entity and records.pipeline_id = grid.pipeline_id
                and records.cohort_month = grid.cohort_month and stays.stage_id = grid.stage_id
                and stays.duration_days is not null
        ) as median_days_in_stage
    from grid
),

final as (
    select
        *,
        lag(reached) over (
            partition by entity, pipeline_id, cohort_month, semantic_id in ('P', 'S')
            order by stage_position
        ) as reached_previous_stage,
        reached / nullif(cohort_size, 0) as reached_rate
    from measured
)

select
    * exclude (reached_previous_stage),
    coalesce(reached_previous_stage, cohort_size) as previous_stage_reached,
    case
        when semantic_id in ('P', 'S')
            then reached / nullif(coalesce(reached_previous_stage, cohort_size), 0)
    end as conversion_from_previous
from final
