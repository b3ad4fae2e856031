{{
    config(
        materialized='incremental',
        unique_key='deal_id',
        incremental_strategy='delete+insert',
    )
}}
-- What the observed versions say about each deal: the first version (and whether it was seen
-- at creation, which is the only way its amount is the amount at creation), and the first version
-- in a final stage (the amount and the manager at close).
-- Incremental: a run re-summarises every deal with a version loaded since the newest load
-- already summarised. Safe because a deal's summary changes only when it gets a new version, and
-- load times only grow; on an empty `this` (a first build with no deals yet) it takes them all.
with

all_versions as (
    select * from {{ ref('stg_bitrix__deal_versions') }}
),

{% if is_incremental() %}
touched as (
    select distinct deal_id
    from all_versions
    where loaded_at > (
        select coalesce(max(last_loaded_at), timestamp '1970-01-01') from {{ this }}
    )
),

versions as (
    select all_versions.*
    from all_versions
    where exists (select 1 from touched where all_versions.deal_id = touched.deal_id)
),
{% else %}
versions as (
    select * from all_versions
),
{% endif %}

ranked as (
    select
        *,
        row_number() over (partition by deal_id order by modified_at, observed_at) as version_number,
        row_number() over (
            partition by deal_id, stage_semantic_id in ('S', 'F')
            order by modified_at, observed_at
        ) as final_version_number,
        max(loaded_at) over (partition by deal_id) as last_loaded_at
    from versions
),

firsts as (
    select
        deal_id,
        amount as first_seen_amount,
        modified_at = created_at as is_first_seen_at_creation,
        last_loaded_at
    from ranked
    where version_number = 1
),

at_close as (
    select deal_id, amount as amount_at_close, manager_id as manager_at_close_id
    from ranked
    where stage_semantic_id in ('S', 'F') and final_version_number = 1
),

final as (
    select
        firsts.deal_id,
        firsts.first_seen_amount,
        firsts.is_first_seen_at_creation,
        at_close.amount_at_close,
        at_close.manager_at_close_id,
        firsts.last_loaded_at
    from firsts
    left join at_close on firsts.deal_id = at_close.deal_id
)

select * from final
