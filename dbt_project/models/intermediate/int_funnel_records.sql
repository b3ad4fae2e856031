{#- Postgres plans a stack of views anew for each use, and joined repeatedly they cost
    minutes; materialized there, they are built once a run. DuckDB keeps the view. -#}
{{ config(
    materialized='table' if target.type == 'postgres' else 'view',
) }}
-- Every live lead and deal (the records fct_leads and fct_deals hold) as the funnel counts it: its current funnel, cohort month (creation,
-- portal time zone) and the one manager credited with it (leads: the first responsible; deals:
-- the manager at close, or the current one while open).
with

leads as (
    select
        portal,
        'lead' as entity,
        lead_id as record_id,
        0 as pipeline_id,
        {{ month_of('created_date') }} as cohort_month,
        first_manager_id as manager_id
    from {{ ref('int_leads_classified') }}
    where not is_deleted
),

deals as (
    select
        portal,
        'deal' as entity,
        deal_id as record_id,
        pipeline_id,
        {{ month_of('created_date') }} as cohort_month,
        credited_manager_id as manager_id
    from {{ ref('int_deals_classified') }}
    where not is_deleted and not is_recurring_template
),

unioned as (
    select * from leads
    union all
    select * from deals
)

select * from unioned
