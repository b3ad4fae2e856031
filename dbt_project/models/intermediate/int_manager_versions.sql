{#- Postgres plans a stack of views anew for each use, and joined repeatedly they cost
    minutes; materialized there, they are built once a run. DuckDB keeps the view. -#}
{{ config(
    materialized='table' if target.type == 'postgres' else 'view',
    indexes=[{'columns': ['portal', 'entity', 'record_id', 'modified_at']}],
) }}
-- Who was responsible from when, per lead and deal, as the syncs observed it.
with

lead_versions as (
    select portal, 'lead' as entity, version_key, lead_id as record_id, manager_id, modified_at,
        loaded_at
    from {{ ref('stg_bitrix__lead_versions') }}
),

deal_versions as (
    select portal, 'deal' as entity, version_key, deal_id as record_id, manager_id, modified_at,
        loaded_at
    from {{ ref('stg_bitrix__deal_versions') }}
),

unioned as (
    select * from lead_versions
    union all
    select * from deal_versions
)

select * from unioned
