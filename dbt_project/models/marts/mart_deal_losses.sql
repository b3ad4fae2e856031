-- Lost deals by the stage they were lost from (the last in-progress stage before the failure
-- stage, from stage history) and the failure stage itself, which portals use as the loss reason.
with

lost as (
    select * from {{ ref('fct_deals') }}
    where outcome = 'lost'
),

history as (
    select * from {{ ref('stg_bitrix__deal_stage_history') }}
),

stages as (
    select * from {{ ref('int_stages_ordered') }}
    where entity = 'deal'
),

moves_before_loss as (
    select
        history.portal,
        history.deal_id,
        history.stage_id as lost_from_stage_id,
        history.entered_at,
        history.history_id
    from history
    inner join lost on history.portal = lost.portal and history.deal_id = lost.deal_id
    where history.stage_semantic_id = 'P'
),

lost_from as (
    select portal, deal_id, lost_from_stage_id
    from (
        select
            *,
            row_number() over (
                partition by portal, deal_id order by entered_at desc, history_id desc
            ) as move_number
        from moves_before_loss
    ) as numbered
    where move_number = 1
),

final as (
    select
        lost.portal,
        {{ month_of('lost.closed_date') }} as loss_month,
        lost.pipeline_id,
        lost.pipeline_name,
        lost_from.lost_from_stage_id,
        from_stage.stage_name as lost_from_stage_name,
        lost.stage_id as loss_stage_id,
        lost.stage_name as loss_reason,
        count(*) as lost_deals,
        {{ money('sum(lost.amount)') }} as lost_amount
    from lost
    left join lost_from on lost.portal = lost_from.portal and lost.deal_id = lost_from.deal_id
    left join stages as from_stage
        on lost.portal = from_stage.portal
        and lost.pipeline_id = from_stage.pipeline_id
        and lost_from.lost_from_stage_id = from_stage.stage_id
    group by 1, 2, 3, 4, 5, 6, 7, 8
)

select * from final
