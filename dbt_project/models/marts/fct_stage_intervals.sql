{{
    config(
        materialized='incremental',
        incremental_strategy='replace_records',
        unique_key=['portal', 'entity', 'record_id'],
        row_key='stay_id',
        on_schema_change='append_new_columns',
        pre_hook="{{ rebuild_without('last_loaded_at') }}",
    )
}}
-- The stays of live leads and deals (deleted records and recurring templates left out).
-- Incremental: a run replaces the stays of the records whose stays int_stage_intervals rebuilt
-- from a load at or after the newest one built here, and of the records whose deletion or
-- restore was loaded since; a record of those that is not live (or has no stays) leaves
-- (strategy `replace_records`). Whether a record is live changes only with such a load: a
-- deletion or restore, or a new read of the record (a deal becoming a recurring template),
-- which loads a version and so rebuilds its stays. A table an earlier release built, without
-- `last_loaded_at`, is emptied and built whole once (`rebuild_without`).
{%- set changes_only = is_incremental() and has_column(this, 'last_loaded_at') %}
with

-- the live records: those fct_leads and fct_deals hold
live as (
    select portal, 'lead' as entity, lead_id as record_id from {{ ref('fct_leads') }}
    union all
    select portal, 'deal' as entity, deal_id as record_id from {{ ref('fct_deals') }}
),

-- (read by the incremental run only, but named here: dbt finds a model's inputs with
-- is_incremental() false)
deleted as (
    select * from {{ ref('stg_bitrix__deleted_records') }}
),

{% if changes_only %}
built as (
    {{ newest_load_built() }}
),

-- (int_stage_intervals is read where it is used, not as a CTE: DuckDB would copy a CTE used
-- twice whole, and the mark's filter prunes the table's scan)
changed as (
    select stays.portal, stays.entity, stays.record_id
    from {{ ref('int_stage_intervals') }} as stays
    left join built on built.portal = stays.portal
    where {{ loaded_since('stays.last_loaded_at') }}
    union
    select
        deleted.portal,
        case deleted.entity when 'leads' then 'lead' else 'deal' end as entity,
        deleted.record_id
    from deleted
    left join built on built.portal = deleted.portal
    where {{ loaded_since('deleted.loaded_at') }}
),
{% endif %}

kept as (
    select stays.*
    from {{ ref('int_stage_intervals') }} as stays
    where
        exists (
            select 1 from live
            where stays.portal = live.portal
                and stays.entity = live.entity and stays.record_id = live.record_id
        )
        {%- if changes_only %}
        and exists (
            select 1 from changed
            where stays.portal = changed.portal
                and stays.entity = changed.entity and stays.record_id = changed.record_id
        )
        {%- endif %}
),

{% if changes_only %}
-- each changed record with its live stays, or once with none (stay_id null): it leaves
final as (
    select
        changed.portal,
        kept.stay_id,
        changed.entity,
        changed.record_id,
        kept.pipeline_id,
        kept.stage_id,
        kept.semantic_id,
        kept.entered_at,
        kept.exited_at,
        kept.next_stage_id,
        kept.is_current,
        kept.duration_days,
        kept.manager_id,
        kept.last_loaded_at
    from changed
    left join kept
        on changed.portal = kept.portal
        and changed.entity = kept.entity and changed.record_id = kept.record_id
)
{% else %}
final as (
    select * from kept
)
{% endif %}

select * from final
