-- Revenue of each won deal shared among its touches: the deal's own lead and the leads of the
-- same contact created before the deal, within `attribution_lookback_days`. Four models:
-- lead (the direct link), first_touch, last_touch, linear. Per deal and model, credits sum to 1.
with

won as (
    select fct.portal, fct.deal_id, fct.amount, fct.created_at, fct.lead_id, stg.contact_id
    from {{ ref('fct_deals') }} as fct
    inner join {{ ref('stg_bitrix__deals') }} as stg
        on fct.portal = stg.portal and fct.deal_id = stg.deal_id
    where fct.is_revenue
),

leads as (
    select * from {{ ref('int_leads_classified') }}
    where not is_deleted
),

-- Two equi-joins rather than one join on `a or b`: DuckDB runs an OR condition as a nested loop
-- (152 s at demo scale 10).
candidates as (
    select won.portal, won.deal_id, won.lead_id as deal_lead_id, leads.lead_id
    from won
    inner join leads on leads.portal = won.portal and leads.lead_id = won.lead_id
    union
    select won.portal, won.deal_id, won.lead_id as deal_lead_id, leads.lead_id
    from won
    inner join leads on leads.portal = won.portal and leads.contact_id = won.contact_id
    where leads.created_at <= won.created_at
        and leads.created_at
            >= won.created_at - interval '{{ var("attribution_lookback_days") }} days'
),

touches as (
    select
        candidates.portal,
        candidates.deal_id,
        won.amount,
        candidates.deal_lead_id,
        leads.lead_id,
        leads.created_at as touched_at,
        leads.source_id,
        leads.utm_source,
        leads.utm_medium,
        leads.utm_campaign,
        leads.ad_id
    from candidates
    inner join won on candidates.portal = won.portal and candidates.deal_id = won.deal_id
    inner join leads on candidates.portal = leads.portal and candidates.lead_id = leads.lead_id
),

numbered as (
    select
        *,
        row_number() over (partition by portal, deal_id order by touched_at, lead_id)
            as touch_number,
        count(*) over (partition by portal, deal_id) as touches
    from touches
),

credited as (
    select *, 'lead' as model, 1.0 as credit from numbered where lead_id = deal_lead_id
    union all
    select *, 'first_touch' as model, 1.0 as credit from numbered where touch_number = 1
    union all
    select *, 'last_touch' as model, 1.0 as credit from numbered where touch_number = touches
    union all
    select *, 'linear' as model, 1.0 / touches as credit from numbered
),

final as (
    select
        portal,
        deal_id,
        model,
        lead_id,
        touch_number,
        touches,
        touched_at,
        source_id,
        utm_source,
        utm_medium,
        utm_campaign,
        ad_id,
        cast(credit as decimal(18, 6)) as credit,
        -- linear shares are rounded to kopecks; the last touch takes the remainder, so a deal's
        -- shares add up to its amount exactly
        cast(case
            when model = 'linear' and touch_number = touches
                then amount - cast(amount / touches as decimal(18, 2)) * (touches - 1)
            else cast(amount * credit as decimal(18, 2))
        end as decimal(18, 2)) as revenue  -- the money type (macro money)
    from credited
)

select * from final
