{{ config(materialized="table") }}
-- The funnel by cohort at its finest grain: entity × funnel × cohort month × credited manager ×
-- stage. Each record has one credited manager (int_funnel_records), so summing over managers
-- gives the whole funnel.
-- `entered`: records with a history row for the stage; `reached`: records that entered it or
-- any later in-progress or success stage of the funnel (a deal won without passing
-- «Квалификация» still reached it); failure stages count entries. A record counts once per
-- stage, and `reached` never grows along the funnel, so no rate exceeds 1.
-- A final stage counts only while the record is in it: a deal won and then reopened is no
-- longer won here (nor in any mart), and a lost one reopened is no longer a loss. A stage
-- removed from the portal's dictionary is no longer a step of the funnel.
with

records as (
    select * from {{ ref('int_funnel_records') }}
),

stages as (
    select * from {{ ref('int_stages_ordered') }}
    where not is_removed
),

stays as (
    select * from {{ ref('int_stage_intervals') }}
),

current_stays as (
    select portal, entity, record_id, entered_at
    from stays
    where is_current
),

-- stays in a stage of the funnel the record is in now (a deal moved to another funnel is
-- measured in its new one)
visits as (
    select distinct
        records.portal,
        records.entity,
        records.record_id,
        stages.stage_id,
        stages.stage_position,
        stages.semantic_id
    from records
    inner join stays
        on records.portal = stays.portal
        and records.entity = stays.entity and records.record_id = stays.record_id
    inner join stages
        on records.portal = stages.portal
        and records.entity = stages.entity
        and records.pipeline_id = stages.pipeline_id
        and stays.stage_id = stages.stage_id
    where stages.semantic_id = 'P' or stays.is_current
),

furthest as (
    select portal, entity, record_id, max(stage_position) as furthest_position
    from visits
    where semantic_id in ('P', 'S')
    group by portal, entity, record_id
),

reached as (
    select records.portal, records.entity, records.record_id, stages.stage_id
    from records
    inner join furthest
        on records.portal = furthest.portal
        and records.entity = furthest.entity and records.record_id = furthest.record_id
    inner join stages
        on records.portal = stages.portal
        and records.entity = stages.entity
        and records.pipeline_id = stages.pipeline_id
        and stages.semantic_id in ('P', 'S')
        and stages.stage_position <= furthest.furthest_position
    union all
    select portal, entity, record_id, stage_id from visits where semantic_id = 'F'
),

losses as (
    -- the in-progress stage a record left for the failure stage it is in now
    select distinct records.portal, records.entity, records.record_id, stays.stage_id
    from records
    inner join stays
        on records.portal = stays.portal
        and records.entity = stays.entity and records.record_id = stays.record_id
    inner join current_stays
        on stays.portal = current_stays.portal
        and stays.entity = current_stays.entity
        and stays.record_id = current_stays.record_id
        and stays.exited_at = current_stays.entered_at
    inner join stages as next_stage
        on records.portal = next_stage.portal
        and records.entity = next_stage.entity
        and records.pipeline_id = next_stage.pipeline_id
        and stays.next_stage_id = next_stage.stage_id
    where next_stage.semantic_id = 'F' and stays.semantic_id = 'P'
),

cohorts as (
    select portal, entity, pipeline_id, cohort_month, manager_id, count(*) as cohort_size
    from records
    group by portal, entity, pipeline_id, cohort_month, manager_id
),

-- per cell, how many of the cohort's records entered, reached and were lost at the stage
marks as (
    select records.*, visits.stage_id, 'entered' as mark
    from records inner join visits using (portal, entity, record_id)
    union all
    select records.*, reached.stage_id, 'reached'
    from records inner join reached using (portal, entity, record_id)
    union all
    select records.*, losses.stage_id, 'lost'
    from records inner join losses using (portal, entity, record_id)
),

counted as (
    select
        portal,
        entity,
        pipeline_id,
        cohort_month,
        manager_id,
        stage_id,
        count(*) filter (where mark = 'entered') as entered,
        count(*) filter (where mark = 'reached') as reached,
        count(*) filter (where mark = 'lost') as lost_at_stage
    from marks
    group by portal, entity, pipeline_id, cohort_month, manager_id, stage_id
),

final as (
    select
        cohorts.portal,
        cohorts.entity,
        cohorts.pipeline_id,
        cohorts.cohort_month,
        cohorts.manager_id,
        stages.pipeline_name,
        stages.stage_id,
        stages.stage_name,
        stages.stage_position,
        stages.semantic_id,
        cohorts.cohort_size,
        coalesce(counted.entered, 0) as entered,
        coalesce(counted.reached, 0) as reached,
        coalesce(counted.lost_at_stage, 0) as lost_at_stage
    from cohorts
    inner join stages
        on cohorts.portal = stages.portal
        and cohorts.entity = stages.entity and cohorts.pipeline_id = stages.pipeline_id
    left join counted
        on cohorts.portal = counted.portal
        and cohorts.entity = counted.entity
        and cohorts.pipeline_id = counted.pipeline_id
        and cohorts.cohort_month = counted.cohort_month
        and cohorts.manager_id is not distinct from counted.manager_id
        and stages.stage_id = counted.stage_id
)

select * from final
