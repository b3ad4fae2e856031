-- Live leads only (deleted ones are in fct_deleted_records).
with

leads as (
    select * from {{ ref('int_leads_classified') }}
    where not is_deleted
),

take_up as (
    select * from {{ ref('int_lead_take_up') }}
),

-- the live deals (as fct_deals holds them) converted from a lead
deals as (
    select *, outcome = 'won' as is_revenue
    from {{ ref('int_deals_classified') }}
    where lead_id is not null and not is_deleted and not is_recurring_template
),

lead_deals as (
    select
        portal,
        lead_id,
        min(deal_id) as converted_deal_id,
        count(*) filter (where is_revenue) as deals_won,
        {{ money('coalesce(sum(amount) filter (where is_revenue), 0)') }} as revenue
    from deals
    group by portal, lead_id
),

final as (
    select
        leads.portal,
        leads.lead_id,
        leads.title,
        leads.source_id,
        leads.utm_source,
        leads.utm_medium,
        leads.utm_campaign,
        leads.utm_content,
        leads.utm_term,
        leads.ad_id,
        leads.status_id,
        leads.status_name,
        leads.is_status_known,
        leads.outcome,
        leads.is_repeat_customer as is_repeat,
        leads.first_manager_id,
        leads.manager_id as current_manager_id,
        take_up.taken_up_at,
        take_up.first_answered_at,
        take_up.answered_by_manager_id,
        take_up.take_up_minutes,
        coalesce(take_up.take_up_minutes <= {{ var('take_up_target_minutes') }}, false)
            as is_taken_up_in_time,
        lead_deals.converted_deal_id,
        coalesce(lead_deals.deals_won, 0) as deals_won,
        coalesce(lead_deals.revenue, 0) as revenue,
        leads.amount_in_base as amount,
        leads.amount as amount_original,
        leads.lead_currency as currency,
        leads.has_bad_values,
        leads.created_at,
        leads.created_date,
        leads.closed_at,
        leads.modified_at
    from leads
    left join take_up on leads.portal = take_up.portal and leads.lead_id = take_up.lead_id
    left join lead_deals
        on leads.portal = lead_deals.portal and leads.lead_id = lead_deals.lead_id
)

select * from final
