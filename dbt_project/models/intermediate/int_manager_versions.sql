-- Who was responsible from when, per lead and deal, as the syncs observed it.
with

lead_versions as (
    select 'lead' as entity, version_key, lead_id as record_id, manager_id, modified_at,
        loaded_at
    from {{ ref('stg_bitrix__lead_versions') }}
),

deal_versions as (
    select 'deal' as entity, version_key, deal_id as record_id, manager_id, modified_at,
        loaded_at
    from {{ ref('stg_bitrix__deal_versions') }}
),

unioned as (
    select * from lead_versions
    union all
    select * from deal_versions
)

select * from unioned
