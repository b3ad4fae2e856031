-- Which ads sell: one row per ad ID, ranked by revenue and by revenue per lead. Leads count by
-- their own ad ID; won deals by the ad the attribution rule gives them (their lead's, or their
-- own UTM_SOURCE when they came from an integration without a lead), so the revenue over all
-- ads equals the revenue of the won deals that carry an ad ID.
with

leads as (
    select * from {{ ref('fct_leads') }}
    where ad_id is not null
),

won as (
    select * from {{ ref('fct_deals') }}
    where is_revenue and ad_id is not null
),

lead_ads as (
    select
        portal,
        ad_id,
        {{ arg_max('utm_campaign', 'created_at') }} as ad_group,
        max(created_at) as last_seen_at,
        count(*) as leads,
        count(*) filter (where outcome = 'quality') as quality_leads,
        min(created_date) as first_lead_date,
        max(created_date) as last_lead_date
    from leads
    group by portal, ad_id
),

deal_ads as (
    select
        portal,
        ad_id,
        {{ arg_max('utm_campaign', 'created_at') }} as ad_group,
        max(created_at) as last_seen_at,
        count(*) as deals_won,
        count(*) filter (where lead_id is null) as deals_won_without_lead,
        {{ money('sum(coalesce(amount, 0))') }} as revenue
    from won
    group by portal, ad_id
),

per_ad as (
    select
        coalesce(lead_ads.portal, deal_ads.portal) as portal,
        coalesce(lead_ads.ad_id, deal_ads.ad_id) as ad_id,
        case
            when deal_ads.last_seen_at > lead_ads.last_seen_at or lead_ads.ad_id is null
                then deal_ads.ad_group
            else lead_ads.ad_group
        end as ad_group,
        coalesce(lead_ads.leads, 0) as leads,
        coalesce(lead_ads.quality_leads, 0) as quality_leads,
        coalesce(deal_ads.deals_won, 0) as deals_won,
        coalesce(deal_ads.deals_won_without_lead, 0) as deals_won_without_lead,
        coalesce(deal_ads.revenue, 0) as revenue,
        lead_ads.first_lead_date,
        lead_ads.last_lead_date
    from lead_ads
    full outer join deal_ads
        on lead_ads.portal = deal_ads.portal and lead_ads.ad_id = deal_ads.ad_id
),

final as (
    select
        *,
        cast(revenue / nullif(leads, 0) as decimal(18, 2)) as revenue_per_lead,
        rank() over (partition by portal order by revenue desc) as revenue_rank,
        rank() over (
            partition by portal order by revenue / nullif(leads, 0) desc nulls last
        ) as revenue_per_lead_rank
    from per_ad
)

select * from final
