-- When each lead was taken up (взят в работу) and who answered it: the first of its first
-- answer (a call, chat or e-mail bound to the lead, by its responsible at the time), its first
-- move out of the initial stage (stage history, exact) and its first reassignment (observed
-- versions: the first version whose responsible differs from the one before, at that version's
-- DATE_MODIFY). A lead never answered, moved nor reassigned has not been taken up. Planned
-- activities (tasks, meetings) are not answers.
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

answers as (
    select
        owner_id as lead_id,
        created_at as answered_at,
        manager_id as answered_by_manager_id,
        row_number() over (partition by owner_id order by created_at, activity_id) as answer_number
    from {{ ref('stg_bitrix__activities') }}
    where owner_entity = 'lead' and activity_kind in ('call', 'chat', 'email')
),

first_answers as (
    select lead_id, answered_at, answered_by_manager_id
    from answers
    where answer_number = 1
),

taken as (
    select
        leads.lead_id,
        leads.created_at,
        first_answers.answered_at as first_answered_at,
        first_answers.answered_by_manager_id,
        moves.first_moved_at,
        reassignments.first_reassigned_at,
        least(first_answers.answered_at, moves.first_moved_at, reassignments.first_reassigned_at)
            as taken_up_at
    from leads
    left join first_answers on leads.lead_id = first_answers.lead_id
    left join moves on leads.lead_id = moves.lead_id
    left join reassignments on leads.lead_id = reassignments.lead_id
),

final as (
    select
        lead_id,
        first_answered_at,
        answered_by_manager_id,
        first_moved_at,
        first_reassigned_at,
        taken_up_at,
        {{ elapsed('created_at', 'taken_up_at', 60, 1) }} as take_up_minutes
    from taken
)

select * from final
