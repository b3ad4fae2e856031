-- Leads and deals deleted on the portal (found by `reconcile`), as last seen: where a data
-- engineer looks for them, while every other fact and mart holds live records only. A record
-- restored from the portal's recycle bin leaves this table at the next reconcile.
with

leads as (
    select * from {{ ref('int_leads_classified') }}
    where is_deleted
),

deals as (
    select * from {{ ref('int_deals_classified') }}
    where is_deleted
),

final as (
    select
        portal,
        'lead' as entity,
        lead_id as record_id,
        title,
        status_id as stage_id,
        outcome,
        manager_id as manager_id,
        amount,
        created_at,
        modified_at,
        deleted_noticed_at
    from leads
    union all
    select
        portal,
        'deal',
        deal_id,
        title,
        stage_id,
        outcome,
        current_manager_id,
        amount,
        created_at,
        modified_at,
        deleted_noticed_at
    from deals
)

select * from final
