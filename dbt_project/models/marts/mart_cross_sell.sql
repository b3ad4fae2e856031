-- Cross-sell: how much a won deal grew between creation and close, and what it sells now. The
-- amount at creation is known only when a sync saw the deal's first version; otherwise the row
-- says so. Amounts in the base currency (product rows at the deal's rate).
with

won as (
    select * from {{ ref('fct_deals') }}
    where is_revenue
),

products as (
    select
        portal,
        deal_id,
        count(*) as product_lines,
        sum(price * quantity) as products_amount
    from {{ ref('stg_bitrix__deal_product_rows') }}
    group by portal, deal_id
),

final as (
    select
        won.portal,
        won.deal_id,
        won.pipeline_id,
        won.pipeline_name,
        won.credited_manager_id as manager_id,
        won.credited_manager_name as manager_name,
        closed_date,
        amount_at_creation,
        amount_at_close,
        {{ money('amount_at_close - amount_at_creation') }} as uplift,
        amount_at_close > amount_at_creation as has_uplift,
        is_creation_amount_known as is_history_complete,
        coalesce(products.product_lines, 0) as product_lines,
        {{ in_base('products.products_amount', 'won.exchange_rate') }} as products_amount
    from won
    left join products on won.portal = products.portal and won.deal_id = products.deal_id
)

select * from final
