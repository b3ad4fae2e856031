{{
    config(
        materialized='incremental',
        unique_key=['portal', 'deal_id'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        pre_hook="{{ rebuild_without('portal') }}",
    )
}}
-- What the observed versions say about each deal: the first version (and whether it was seen
-- at creation, which is the only way its amount is the amount at creation), and the first version
-- of its last stay in a final stage (the amount and the manager at close: a deal won, reopened
-- and won again closed the second time). Amounts in the deal's own currency, with the currency
-- and the moment the version was read, which fix the rate it converts at.
-- Incremental: a run re-summarises every deal with a version loaded since (or with) the newest
-- load of its portal already summarised. Safe because a deal's summary changes only when it
-- gets a new version. See `loaded_at` for why the mark is per portal and inclusive; a portal
-- not summarised yet (an empty `this`, a new portal) takes every deal.
with

all_versions as (
    select * from {{ ref('stg_bitrix__deal_versions') }}
),

{#- A `this` built by an older release lacks the newest column: rebuild every deal once. -#}
{% if is_incremental() and has_column(this, 'observed_at_close')
      and has_column(this, 'portal') %}
built as (
    select portal, max(last_loaded_at) as last_loaded_at
    from {{ this }}
    group by portal
),

touched as (
    select distinct all_versions.portal, all_versions.deal_id
    from all_versions
    left join built on built.portal = all_versions.portal
    where built.last_loaded_at is null or all_versions.loaded_at >= built.last_loaded_at
),

versions as (
    select all_versions.*
    from all_versions
    where exists (
        select 1 from touched
        where all_versions.portal = touched.portal and all_versions.deal_id = touched.deal_id
    )
),
{% else %}
versions as (
    select * from all_versions
),
{% endif %}

ordered as (
    select
        *,
        stage_semantic_id in ('S', 'F') as is_final,
        lag(stage_semantic_id in ('S', 'F')) over (
            partition by portal, deal_id order by modified_at, observed_at
        ) as was_final,
        row_number() over (
            partition by portal, deal_id order by modified_at, observed_at
        ) as version_number,
        max(loaded_at) over (partition by portal, deal_id) as last_loaded_at
    from versions
),

closings as (
    -- the versions that entered a final stage from an open one (or were first seen closed)
    select
        *,
        row_number() over (
            partition by portal, deal_id order by modified_at desc, observed_at desc
        )
            as closing_number
    from ordered
    where is_final and not coalesce(was_final, false)
),

firsts as (
    select
        portal,
        deal_id,
        amount as first_seen_amount,
        currency as first_seen_currency,
        observed_at as first_seen_observed_at,
        modified_at = created_at as is_first_seen_at_creation,
        last_loaded_at
    from ordered
    where version_number = 1
),

at_close as (
    select
        portal,
        deal_id,
        amount as amount_at_close,
        currency as currency_at_close,
        observed_at as observed_at_close,
        manager_id as manager_at_close_id
    from closings
    where closing_number = 1
),

final as (
    select
        firsts.portal,
        firsts.deal_id,
        firsts.first_seen_amount,
        firsts.first_seen_currency,
        firsts.first_seen_observed_at,
        firsts.is_first_seen_at_creation,
        at_close.amount_at_close,
        at_close.currency_at_close,
        at_close.observed_at_close,
        at_close.manager_at_close_id,
        firsts.last_loaded_at
    from firsts
    left join at_close on firsts.portal = at_close.portal and firsts.deal_id = at_close.deal_id
)

select * from final
