-- Every deal with what the marts need of it - deleted deals and recurring templates included and
-- flagged (fct_deals keeps the live deals, mart_data_quality and fct_deleted_records the rest).
-- Attribution rule (one set, never mixed field by field): a deal carries its lead's source, UTM
-- and ad ID when it has a live lead that has a UTM_SOURCE; otherwise its own (deals created by an
-- integration such as the Avito robot have no lead and their own UTM_SOURCE = the ad ID).
-- Amounts: in the portal's base currency at the rate of the moment each was read (doc block
-- `base_currency_amount`), with the deal's own amount, currency and rate beside them.
-- Repeat: the portal's flags (Повторная сделка, Повторное обращение) or, when a manager forgot
-- them, the deal's contact already had an earlier live deal.
with

deals as (
    select * from {{ ref('stg_bitrix__deals') }}
),

pipelines as (
    select * from {{ ref('stg_bitrix__deal_categories') }}
),

stages as (
    select * from {{ ref('int_stages_ordered') }}
    where entity = 'deal'
),

versions as (
    select * from {{ ref('int_deal_versions_summarised') }}
),

leads as (
    select * from {{ ref('int_leads_classified') }}
    where not is_deleted
),

rates as (
    select * from {{ ref('int_currency_rates') }}
),

base as (
    -- a portal's base currency (none before a sync has read the currencies)
    select portal, max(base_currency) as base_currency from rates group by portal
),

closings as (
    -- when the deal entered the final stage it is in now (stage history, so exact)
    select portal, deal_id, max(entered_at) as closed_at
    from {{ ref('stg_bitrix__deal_stage_history') }}
    where stage_semantic_id in ('S', 'F')
    group by portal, deal_id
),

deleted as (
    select portal, record_id as deal_id, deleted_noticed_at
    from {{ ref('stg_bitrix__deleted_records') }}
    where entity = 'deals' and is_deleted
),

joined as (
    select
        deals.*,
        pipelines.pipeline_name,
        stages.stage_name,
        coalesce(stages.semantic_id, deals.stage_semantic_id) as semantic_id,
        base.base_currency,
        coalesce(deals.currency, base.base_currency) as deal_currency,
        rate_now.rate_to_base as exchange_rate,
        {{ in_base('deals.amount', 'rate_now.rate_to_base') }} as amount_in_base,
        {{ in_base('versions.first_seen_amount', 'rate_first.rate_to_base') }}
            as first_seen_amount,
        versions.is_first_seen_at_creation,
        {{ in_base('versions.amount_at_close', 'rate_close.rate_to_base') }} as amount_at_close,
        versions.manager_at_close_id,
        closings.closed_at as history_closed_at,
        coalesce(leads.utm_source, '') <> '' as is_lead_attributed,
        leads.source_id as lead_source_id,
        leads.utm_source as lead_utm_source,
        leads.utm_medium as lead_utm_medium,
        leads.utm_campaign as lead_utm_campaign,
        leads.ad_id as lead_ad_id,
        leads.created_date as lead_created_date,
        deleted.deal_id is not null as is_deleted,
        deleted.deleted_noticed_at
    from deals
    left join pipelines
        on deals.portal = pipelines.portal and deals.pipeline_id = pipelines.pipeline_id
    left join stages
        on deals.portal = stages.portal
        and deals.pipeline_id = stages.pipeline_id and deals.stage_id = stages.stage_id
    left join versions on deals.portal = versions.portal and deals.deal_id = versions.deal_id
    left join base on deals.portal = base.portal
    left join rates as rate_now
        on {{ rate_in_force('rate_now', 'deals.portal',
                            'coalesce(deals.currency, base.base_currency)', 'deals.observed_at') }}
    left join rates as rate_first
        on {{ rate_in_force('rate_first', 'deals.portal',
                            'coalesce(versions.first_seen_currency, base.base_currency)',
                            'versions.first_seen_observed_at') }}
    left join rates as rate_close
        on {{ rate_in_force('rate_close', 'deals.portal',
                            'coalesce(versions.currency_at_close, base.base_currency)',
                            'versions.observed_at_close') }}
    left join closings on deals.portal = closings.portal and deals.deal_id = closings.deal_id
    left join leads on deals.portal = leads.portal and deals.lead_id = leads.lead_id
    left join deleted on deals.portal = deleted.portal and deals.deal_id = deleted.deal_id
),

contact_deals as (
    -- the order of a contact's live deals (templates and deleted deals are not orders)
    select
        portal,
        deal_id,
        row_number() over (partition by portal, contact_id order by created_at, deal_id)
            as contact_deal_number
    from joined
    where nullif(contact_id, 0) is not null and not is_deleted and not is_recurring_template
),

final as (
    select
        portal,
        deal_id,
        title,
        pipeline_id,
        pipeline_name,
        stage_id,
        stage_name,
        case semantic_id when 'S' then 'won' when 'F' then 'lost' else 'open' end as outcome,
        lead_id,
        case when is_lead_attributed then 'lead' else 'deal' end as attributed_by,
        case when is_lead_attributed then lead_source_id else source_id end as source_id,
        case when is_lead_attributed then lead_utm_source else utm_source end as utm_source,
        case when is_lead_attributed then lead_utm_medium else utm_medium end as utm_medium,
        case when is_lead_attributed then lead_utm_campaign else utm_campaign end as utm_campaign,
        case
            when is_lead_attributed then lead_ad_id
            else nullif({{ regexp_first('utm_source', var('ad_id_pattern')) }}, '')
        end as ad_id,
        nullif(contact_id, 0) as contact_id,
        contact_deal_number,
        coalesce(contact_deal_number > 1, false) as is_repeat_contact,
        is_repeat_customer,
        is_repeated_approach,
        is_repeat_customer or is_repeated_approach or coalesce(contact_deal_number > 1, false)
            as is_repeat,
        manager_id as current_manager_id,
        case
            when semantic_id in ('S', 'F') then coalesce(manager_at_close_id, manager_id)
        end as manager_at_close_id,
        -- credit: the manager at close for closed deals, the current one for open deals
        case
            when semantic_id in ('S', 'F') then coalesce(manager_at_close_id, manager_id)
            else manager_id
        end as credited_manager_id,
        amount_in_base as amount,
        case when is_first_seen_at_creation then first_seen_amount end as amount_at_creation,
        coalesce(is_first_seen_at_creation, false) as is_creation_amount_known,
        case when semantic_id in ('S', 'F') then coalesce(amount_at_close, amount_in_base) end
            as amount_at_close,
        amount as amount_original,
        deal_currency as currency,
        exchange_rate,
        base_currency,
        is_recurring_template,
        is_deleted,
        deleted_noticed_at,
        has_bad_values,
        created_at,
        {{ portal_date('created_at') }} as created_date,
        -- the day the deal's revenue is credited on: its lead's arrival when attributed by the lead
        case
            when is_lead_attributed then lead_created_date else {{ portal_date('created_at') }}
        end as attributed_date,
        case when semantic_id in ('S', 'F') then coalesce(history_closed_at, stage_changed_at) end
            as closed_at,
        stage_changed_at,
        modified_at
    from joined
    left join contact_deals using (portal, deal_id)
),

with_durations as (
    select
        *,
        {{ portal_date('closed_at') }} as closed_date,
        {{ elapsed('created_at', 'closed_at', 86400, 2) }} as days_to_close,
        {{ elapsed('stage_changed_at', utc('current_timestamp'), 86400, 2) }}
            as days_in_current_stage
    from final
)

select * from with_durations
