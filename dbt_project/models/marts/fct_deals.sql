-- Live deals only: deleted deals (fct_deleted_records) and recurring-deal templates, which are
-- not deals (mart_data_quality), are left out, so `sum(amount) where outcome = 'won'` is revenue.
with

deals as (
    select * from {{ ref('int_deals_classified') }}
),

final as (
    select
        {{ star_except(ref('int_deals_classified'),
                       ['is_recurring_template', 'is_deleted', 'deleted_noticed_at']) }},
        outcome = 'won' as is_revenue
    from deals
    where not is_deleted and not is_recurring_template
)

select * from final
