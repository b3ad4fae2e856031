{#- Postgres plans a stack of views anew for each use, and joined repeatedly they cost
    minutes; materialized there, they are built once a run. DuckDB keeps the view. -#}
{{ config(
    materialized='table' if target.type == 'postgres' else 'view',
) }}
-- Lead stages and the deal stages of every funnel, in the portal's order. Deal stages of funnel
-- 0 live in dictionary DEAL_STAGE, those of funnel n in DEAL_STAGE_n.
with

statuses as (
    select * from {{ ref('stg_bitrix__statuses') }}
    where not is_deleted
),

stages as (
    select
        case when dictionary_id = 'STATUS' then 'lead' else 'deal' end as entity,
        case
            when dictionary_id in ('STATUS', 'DEAL_STAGE') then 0
            else coalesce(pipeline_id, cast(nullif({{ regexp_first('dictionary_id', '[0-9]+$') }}, '') as bigint))
        end as pipeline_id,
        status_id as stage_id,
        name as stage_name,
        semantic_id,
        sort_order,
        status_row_id
    from statuses
    where dictionary_id = 'STATUS' or dictionary_id like 'DEAL\_STAGE%' escape '\'
),

final as (
    select
        entity,
        pipeline_id,
        stage_id,
        stage_name,
        semantic_id,
        row_number() over (
            partition by entity, pipeline_id order by sort_order, status_row_id
        ) as stage_position
    from stages
)

select * from final
