{#- Postgres plans a stack of views anew for each use, and joined repeatedly they cost
    minutes; materialized there, they are built once a run. DuckDB keeps the view. -#}
{{ config(
    materialized='table' if target.type == 'postgres' else 'view',
) }}
-- Lead stages and the deal stages of every funnel, in the portal's order, with the funnel's
-- name: the one place marts take stage and funnel names from. Deal stages of funnel 0 live in
-- dictionary DEAL_STAGE, those of funnel n in DEAL_STAGE_n. A stage renamed on the portal has
-- its new name; one removed keeps its last name, flagged `is_removed`, so the history that
-- passed it stays named (the funnel leaves it out; live stages alone have positions).
with

statuses as (
    select * from {{ ref('stg_bitrix__statuses') }}
),

pipelines as (
    select * from {{ ref('stg_bitrix__deal_categories') }}
),

stages as (
    select
        portal,
        case when dictionary_id = 'STATUS' then 'lead' else 'deal' end as entity,
        case
            when dictionary_id in ('STATUS', 'DEAL_STAGE') then 0
            else coalesce(pipeline_id, cast(nullif({{ regexp_first('dictionary_id', '[0-9]+$') }}, '') as bigint))
        end as pipeline_id,
        status_id as stage_id,
        name as stage_name,
        semantic_id,
        sort_order,
        status_row_id,
        is_deleted as is_removed,
        -- a code removed and added again: the live entry names it
        row_number() over (
            partition by portal, dictionary_id, status_id order by is_deleted, status_row_id desc
        ) as entry_number
    from statuses
    where dictionary_id = 'STATUS' or dictionary_id like 'DEAL\_STAGE%' escape '\'
),

final as (
    select
        stages.portal,
        stages.entity,
        stages.pipeline_id,
        case
            when stages.entity = 'lead' then 'Лиды'
            else pipelines.pipeline_name
        end as pipeline_name,
        stages.stage_id,
        stages.stage_name,
        stages.semantic_id,
        case
            when not stages.is_removed then row_number() over (
                partition by stages.portal, stages.entity, stages.pipeline_id, stages.is_removed
                order by stages.sort_order, stages.status_row_id
            )
        end as stage_position,
        stages.is_removed
    from stages
    left join pipelines
        on stages.portal = pipelines.portal
        and stages.entity = 'deal' and stages.pipeline_id = pipelines.pipeline_id
    where stages.entry_number = 1
)

select * from final
