-- Leads by the day they arrived and where from, with the revenue of the won deals credited to
-- the same source (the attribution rule of int_deals_classified): a won deal of a lead counts on
-- its lead's day and source, a won deal without a lead (an integration's) on its own day and UTM.
-- Each won deal counts once, so the mart's revenue is the revenue of every won deal.
with

leads as (
    select
        portal,
        created_date as lead_date,
        source_id,
        utm_source,
        utm_medium,
        utm_campaign,
        1 as leads_received,
        case when outcome = 'quality' then 1 else 0 end as quality_leads,
        case when outcome = 'junk' then 1 else 0 end as junk_leads,
        case when outcome = 'in_work' then 1 else 0 end as in_work_leads,
        case when is_repeat then 0 else 1 end as new_leads,
        case when is_repeat then 1 else 0 end as repeat_leads,
        0 as deals_won,
        0 as revenue
    from {{ ref('fct_leads') }}
),

won_deals as (
    select
        portal,
        attributed_date as lead_date,
        source_id,
        utm_source,
        utm_medium,
        utm_campaign,
        0 as leads_received,
        0 as quality_leads,
        0 as junk_leads,
        0 as in_work_leads,
        0 as new_leads,
        0 as repeat_leads,
        1 as deals_won,
        coalesce(amount, 0) as revenue
    from {{ ref('fct_deals') }}
    where is_revenue
),

daily as (
    select
        portal,
        lead_date,
        source_id,
        utm_source,
        utm_medium,
        utm_campaign,
        {{ count_sum('leads_received') }} as leads_received,
        {{ count_sum('quality_leads') }} as quality_leads,
        {{ count_sum('junk_leads') }} as junk_leads,
        {{ count_sum('in_work_leads') }} as in_work_leads,
        {{ count_sum('new_leads') }} as new_leads,
        {{ count_sum('repeat_leads') }} as repeat_leads,
        {{ count_sum('deals_won') }} as deals_won,
        {{ money('sum(revenue)') }} as revenue
    from (select * from leads union all select * from won_deals) as facts
    group by portal, lead_date, source_id, utm_source, utm_medium, utm_campaign
),

sources as (
    select portal, status_id as source_id, name as source_name
    from {{ ref('stg_bitrix__statuses') }}
    where dictionary_id = 'SOURCE'
),

final as (
    select
        daily.portal,
        daily.lead_date,
        daily.source_id,
        coalesce(sources.source_name, daily.source_id, '(без источника)') as source_name,
        daily.utm_source,
        daily.utm_medium,
        daily.utm_campaign,
        daily.leads_received,
        daily.quality_leads,
        daily.junk_leads,
        daily.in_work_leads,
        daily.new_leads,
        daily.repeat_leads,
        daily.deals_won,
        daily.revenue,
        cast(daily.revenue / nullif(daily.leads_received, 0) as decimal(18, 2))
            as revenue_per_lead
    from daily
    left join sources on daily.portal = sources.portal and daily.source_id = sources.source_id
)

select * from final
