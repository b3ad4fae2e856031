-- When each lead was taken up (взят в работу) and who answered it. The rule (doc block
-- `take_up`, models/_docs.md): the first of its first answer, its first move out of the
-- initial stage (stage history) and its first reassignment (observed versions: the first
-- version whose responsible differs from the one before, at that version's DATE_MODIFY).
-- An answer is a call, chat or e-mail bound to the lead that happened - completed, or an
-- incoming chat or e-mail - at its START_TIME (END_TIME, then CREATED, when it has none), and
-- never before the lead existed. A call planned for tomorrow is no answer.
with

leads as (
    select portal, lead_id, created_at from {{ ref('stg_bitrix__leads') }}
),

moves as (
    select portal, lead_id, min(entered_at) as first_moved_at
    from {{ ref('stg_bitrix__lead_stage_history') }}
    where record_type <> 1  -- 1 is the row written at creation
    group by portal, lead_id
),

versions as (
    select
        portal,
        lead_id,
        manager_id,
        modified_at,
        lag(manager_id) over (partition by portal, lead_id order by modified_at, observed_at)
            as previous_manager_id
    from {{ ref('stg_bitrix__lead_versions') }}
),

reassignments as (
    select portal, lead_id, min(modified_at) as first_reassigned_at
    from versions
    where previous_manager_id is distinct from manager_id and previous_manager_id is not null
    group by portal, lead_id
),

happened as (
    select
        portal,
        owner_id as lead_id,
        coalesce(started_at, ended_at, created_at) as happened_at,
        manager_id as answered_by_manager_id,
        activity_id
    from {{ ref('stg_bitrix__activities') }}
    where
        owner_entity = 'lead'
        and activity_kind in ('call', 'chat', 'email')
        and (is_completed or (direction = 'incoming' and activity_kind in ('chat', 'email')))
),

answers as (
    select
        *,
        row_number() over (partition by portal, lead_id order by happened_at, activity_id)
            as answer_number
    from happened
),

first_answers as (
    select
        answers.portal,
        answers.lead_id,
        -- the call that created the lead started before it: answered at the lead's creation
        case
            when answers.happened_at < leads.created_at then leads.created_at
            else answers.happened_at
        end as answered_at,
        answers.answered_by_manager_id
    from answers
    inner join leads on answers.portal = leads.portal and answers.lead_id = leads.lead_id
    where answers.answer_number = 1
),

taken as (
    select
        leads.portal,
        leads.lead_id,
        leads.created_at,
        first_answers.answered_at as first_answered_at,
        first_answers.answered_by_manager_id,
        moves.first_moved_at,
        reassignments.first_reassigned_at,
        least(first_answers.answered_at, moves.first_moved_at, reassignments.first_reassigned_at)
            as taken_up_at
    from leads
    left join first_answers
        on leads.portal = first_answers.portal and leads.lead_id = first_answers.lead_id
    left join moves on leads.portal = moves.portal and leads.lead_id = moves.lead_id
    left join reassignments
        on leads.portal = reassignments.portal and leads.lead_id = reassignments.lead_id
),

final as (
    select
        portal,
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
