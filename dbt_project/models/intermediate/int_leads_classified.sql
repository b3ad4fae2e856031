-- Outcome from the status dictionary's semantics; the first manager from the oldest observed
-- version (the API keeps no assignment history, so syncs are the only witness); the expected
-- amount in the base currency (doc block `base_currency_amount`).
with

leads as (
    select * from {{ ref('stg_bitrix__leads') }}
),

lead_stages as (
    select portal, status_id, name as status_name, semantic_id
    from {{ ref('stg_bitrix__statuses') }}
    where dictionary_id = 'STATUS'
),

versions as (
    select * from {{ ref('stg_bitrix__lead_versions') }}
),

deleted as (
    select portal, record_id as lead_id, deleted_noticed_at
    from {{ ref('stg_bitrix__deleted_records') }}
    where entity = 'leads' and is_deleted
),

rates as (
    select * from {{ ref('int_currency_rates') }}
),

base as (
    select portal, max(base_currency) as base_currency from rates group by portal
),

first_versions as (
    select portal, lead_id, first_manager_id
    from (
        select
            portal,
            lead_id,
            manager_id as first_manager_id,
            row_number() over (partition by portal, lead_id order by modified_at, observed_at)
                as version_number
        from versions
    ) as numbered
    where version_number = 1
),

classified as (
    select
        leads.*,
        lead_stages.status_name,
        lead_stages.status_id is not null as is_status_known,
        case lead_stages.semantic_id
            when 'S' then 'quality'
            when 'F' then 'junk'
            else 'in_work'
        end as outcome,
        coalesce(first_versions.first_manager_id, leads.manager_id) as first_manager_id,
        nullif({{ regexp_first('leads.utm_source', var('ad_id_pattern')) }}, '') as ad_id,
        coalesce(leads.currency, base.base_currency) as lead_currency,
        {{ in_base('leads.amount', 'rate.rate_to_base') }} as amount_in_base,
        deleted.deleted_noticed_at,
        deleted.lead_id is not null as is_deleted
    from leads
    left join lead_stages
        on leads.portal = lead_stages.portal and leads.status_id = lead_stages.status_id
    left join first_versions
        on leads.portal = first_versions.portal and leads.lead_id = first_versions.lead_id
    left join deleted on leads.portal = deleted.portal and leads.lead_id = deleted.lead_id
    left join base on leads.portal = base.portal
    left join rates as rate
        on {{ rate_in_force('rate', 'leads.portal',
                            'coalesce(leads.currency, base.base_currency)', 'leads.observed_at') }}
),

final as (
    select
        *,
        {{ portal_date('created_at') }} as created_date
    from classified
)

select * from final
