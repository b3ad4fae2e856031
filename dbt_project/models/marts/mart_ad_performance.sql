-- Which ads sell: one row per ad ID (parsed from UTM_SOURCE), ranked by revenue and by revenue
-- per lead. Deleted leads do not count; revenue is that of the leads' won deals.
with

leads as (
    select * from {{ ref('fct_leads') }}
    where ad_id is not null and not is_deleted
),

per_ad as (
    select
        ad_id,
        any_value(utm_campaign order by created_at desc) as ad_group,
        count(*) as leads,
        count(*) filter (where outcome = 'quality') as quality_leads,
        sum(deals_won) as deals_won,
        sum(revenue) as revenue,
        min(created_date) as first_lead_date,
        max(created_date) as last_lead_date
    from leads
    group by ad_id
),

final as (
    select
        *,
        cast(revenue / leads as decimal(18, 2)) as revenue_per_lead,
        rank() over (order by revenue desc) as revenue_rank,
        rank() over (order by revenue / leads desc) as revenue_per_lead_rank
    from per_ad
)

select * from final
