-- One manager per metric, so sums over managers equal the totals and no rate exceeds 1 however
-- often a record changed hands: leads go to the first manager who took them, closed deals to
-- the manager at close, open deals to the current one.
with

leads as (
    select * from {{ ref('fct_leads') }}
),

deals as (
    select * from {{ ref('fct_deals') }}
),

managers as (
    select * from {{ ref('dim_managers') }}
),

lead_months as (
    select
        portal,
        {{ month_of('created_date') }} as month,
        first_manager_id as manager_id,
        count(*) as leads_taken,
        count(*) filter (where is_repeat) as repeat_leads_taken,
        count(*) filter (where outcome = 'quality') as quality_leads,
        count(*) filter (where is_taken_up_in_time) as leads_taken_up_in_time,
        {{ median('take_up_minutes') }} as median_take_up_minutes
    from leads
    group by 1, 2, 3
),

deal_months as (
    select
        portal,
        {{ month_of('closed_date') }} as month,
        credited_manager_id as manager_id,
        count(*) filter (where is_revenue) as deals_won,
        count(*) filter (where is_revenue and is_repeat) as repeat_deals_won,
        count(*) filter (where outcome = 'lost') as deals_lost,
        {{ money('coalesce(sum(amount) filter (where is_revenue), 0)') }} as revenue,
        {{ money('coalesce(sum(amount) filter (where is_revenue and is_repeat), 0)') }} as repeat_revenue,
        {{ median('days_to_close') }} filter (where is_revenue) as median_days_to_close
    from deals
    where outcome in ('won', 'lost')
    group by 1, 2, 3
),

joined as (
    select
        coalesce(lead_months.portal, deal_months.portal) as portal,
        coalesce(lead_months.month, deal_months.month) as month,
        coalesce(lead_months.manager_id, deal_months.manager_id) as manager_id,
        coalesce(lead_months.leads_taken, 0) as leads_taken,
        coalesce(lead_months.repeat_leads_taken, 0) as repeat_leads_taken,
        coalesce(lead_months.quality_leads, 0) as quality_leads,
        coalesce(lead_months.leads_taken_up_in_time, 0) as leads_taken_up_in_time,
        lead_months.median_take_up_minutes,
        coalesce(deal_months.deals_won, 0) as deals_won,
        coalesce(deal_months.repeat_deals_won, 0) as repeat_deals_won,
        coalesce(deal_months.deals_lost, 0) as deals_lost,
        coalesce(deal_months.revenue, 0) as revenue,
        coalesce(deal_months.repeat_revenue, 0) as repeat_revenue,
        deal_months.median_days_to_close
    from lead_months
    full outer join deal_months
        on lead_months.portal = deal_months.portal
        and lead_months.month = deal_months.month
        and lead_months.manager_id = deal_months.manager_id
),

final as (
    select
        joined.portal,
        joined.month,
        joined.manager_id,
        managers.manager_name,
        managers.department_id,
        managers.department_name,
        managers.employment_status,
        joined.leads_taken,
        joined.leads_taken - joined.repeat_leads_taken as new_leads_taken,
        joined.repeat_leads_taken,
        joined.quality_leads,
        joined.leads_taken_up_in_time,
        joined.median_take_up_minutes,
        joined.deals_won,
        joined.deals_won - joined.repeat_deals_won as new_deals_won,
        joined.repeat_deals_won,
        joined.deals_lost,
        joined.deals_won + joined.deals_lost as deals_closed,
        joined.revenue,
        joined.repeat_revenue,
        cast(joined.revenue / nullif(joined.deals_won, 0) as decimal(18, 2)) as average_check,
        {{ ratio('joined.deals_won', 'joined.deals_won + joined.deals_lost') }} as win_rate,
        {{ ratio('joined.quality_leads', 'joined.leads_taken') }} as quality_rate,
        {{ ratio('joined.leads_taken_up_in_time', 'joined.leads_taken') }}
            as take_up_in_time_rate,
        joined.median_days_to_close
    from joined
    left join managers
        on joined.portal = managers.portal and joined.manager_id = managers.manager_id
)

select * from final
