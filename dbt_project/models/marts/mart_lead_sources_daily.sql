with

leads as (
    select * from {{ ref('fct_leads') }}
    where not is_deleted
),

daily as (
    select
        created_date as lead_date,
        source_id,
        utm_source,
        utm_medium,
        utm_campaign,
        count(*) as leads_received,
        count(*) filter (where outcome = 'quality') as quality_leads,
        count(*) filter (where outcome = 'junk') as junk_leads,
        count(*) filter (where outcome = 'in_work') as in_work_leads,
        sum(deals_won) as deals_won,
        sum(revenue) as revenue
    from leads
    group by all
),

final as (
    select
        *,
        cast(revenue / leads_received as decimal(18, 2)) as revenue_per_lead
    from daily
)

select * from final
