-- Live deals only: deleted deals (fct_deleted_records) and recurring-deal templates, which are
-- not deals (mart_data_quality), are left out, so `sum(amount) where outcome = 'won'` is revenue.
with

deals as (
    select * from {{ ref('int_deals_classified') }}
),

managers as (
    select * from {{ ref('dim_managers') }}
),

final as (
    select
        {{ star_except(ref('int_deals_classified'),
                       ['is_recurring_template', 'is_deleted', 'deleted_noticed_at'],
                       prefix='deals') }},
        current_manager.manager_name as current_manager_name,
        credited_manager.manager_name as credited_manager_name,
        deals.outcome = 'won' as is_revenue
    from deals
    left join managers as current_manager
        on deals.portal = current_manager.portal
        and deals.current_manager_id = current_manager.manager_id
    left join managers as credited_manager
        on deals.portal = credited_manager.portal
        and deals.credited_manager_id = credited_manager.manager_id
    where not deals.is_deleted and not deals.is_recurring_template
)

select * from final
