with

leads as (
    select * from {{ ref('int_leads_classified') }}
),

deals as (
    select * from {{ ref('stg_bitrix__deals') }}
),

deleted_deals as (
    select record_id as deal_id
    from {{ ref('stg_bitrix__deleted_records') }}
    where entity = 'deals' and is_deleted
),

-- Revenue counts won deals only, never recurring-deal templates or deleted deals.
countable_deals as (
    select deals.*
    from deals
    anti join deleted_deals on deals.deal_id = deleted_deals.deal_id
    where deals.lead_id is not null and not deals.is_recurring_template
),

lead_deals as (
    select
        lead_id,
        min(deal_id) as converted_deal_id,
        count(*) filter (where stage_semantic_id = 'S') as deals_won,
        coalesce(sum(amount) filter (where stage_semantic_id = 'S'), 0) as revenue
    from countable_deals
    group by lead_id
),

final as (
    select
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
        leads.first_manager_id,
        leads.manager_id as current_manager_id,
        lead_deals.converted_deal_id,
        coalesce(lead_deals.deals_won, 0) as deals_won,
        coalesce(lead_deals.revenue, 0) as revenue,
        leads.amount,
        leads.has_bad_values,
        leads.is_deleted,
        leads.created_at,
        leads.created_date,
        leads.closed_at,
        leads.modified_at
    from leads
    left join lead_deals on leads.lead_id = lead_deals.lead_id
)

select * from final
