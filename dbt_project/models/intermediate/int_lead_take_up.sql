-- When each lead was taken up (взят в работу): its first move out of the initial stage (stage
-- history, exact) or its first reassignment (observed versions: the first version whose
-- responsible differs from the one before it, at that version's DATE_MODIFY), whichever came
-- first. A lead never moved nor reassigned has not been taken up.
with

leads as (
    select lead_id, created_at from {{ ref('stg_bitrix__leads') }}
),

moves as (
    select lead_id, min(entered_at) as first_moved_at
    from {{ ref('stg_bitrix__lead_stage_history') }}
    where record_type <> 1  -- 1 is the row written at creation
    group by lead_id
),

versions as (
    select
        lead_id,
        manager_id,
        modified_at,
        lag(manager_id) over (partition by lead_id order by modified_at, observed_at)
            as previous_manager_id
    from {{ ref('stg_bitrix__lead_versions') }}
),

reassignments as (
    select lead_id, min(modified_at) as first_reassigned_at
    from versions
    where previous_manager_id is distinct from manager_id and previous_manager_id is not null
    group by lead_id
),

taken as (
    select
        leads.lead_id,
        leads.created_at,
        moves.first_moved_at,
        reassignments.first_reassigned_at,
        least(moves.first_moved_at, reassignments.first_reassigned_at) as taken_up_at
    from leads
    left join moves on leads.lead_id = moves.lead_id
    left join reassignments on leads.lead_id = reassignments.lead_id
),

final as (
    select
        lead_id,
        first_moved_at,
        first_reassigned_at,
        taken_up_at,
        round(date_diff('second', created_at, taken_up_at) / 60.0, 1) as take_up_minutes
    from taken
)

select * from final
