-- What sells: the product rows of live won deals by the month they were won. A row without a
-- catalogue product (typed by hand) is keyed by its name. Prices are in the deal's currency and
-- convert at the deal's rate (fct_deals.exchange_rate) into the base currency.
with

won as (
    select portal, deal_id, pipeline_id, pipeline_name, closed_date, exchange_rate
    from {{ ref('fct_deals') }}
    where is_revenue
),

product_rows as (
    select
        *,
        coalesce(cast(nullif(product_id, 0) as varchar), 'name:' || product_name) as product_key
    from {{ ref('stg_bitrix__deal_product_rows') }}
),

sold as (
    select
        won.portal,
        cast(date_trunc('month', won.closed_date) as date) as closed_month,
        won.pipeline_id,
        won.pipeline_name,
        product_rows.product_key,
        nullif(product_rows.product_id, 0) as product_id,
        product_rows.product_name,
        product_rows.deal_id,
        product_rows.product_row_id,
        product_rows.quantity,
        product_rows.price * product_rows.quantity * won.exchange_rate as row_amount
    from product_rows
    inner join won on product_rows.portal = won.portal and product_rows.deal_id = won.deal_id
),

final as (
    select
        portal,
        closed_month,
        pipeline_id,
        {{ any_value('pipeline_name') }} as pipeline_name,
        product_key,
        max(product_id) as product_id,
        {{ arg_max('product_name', 'product_row_id') }} as product_name,
        count(distinct deal_id) as deals_won,
        cast(sum(quantity) as decimal(18, 3)) as quantity,
        {{ money('sum(row_amount)') }} as revenue
    from sold
    group by portal, closed_month, pipeline_id, product_key
)

select * from final
