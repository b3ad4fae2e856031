-- The deals' product rows, one JSON list a deal in the raw table, unnested to a row each.
with

source as (
    {{ portal_union('deal_products') }}
),

unnested as (
    select
        portal,
        deal_id,
        {{ json_elements('product_rows') }} as product_row
    from source
),

renamed as (
    select
        portal,
        cast(product_row ->> 'id' as bigint) as product_row_id,
        deal_id,
        cast(product_row ->> 'product_id' as bigint) as product_id,
        product_row ->> 'product_name' as product_name,
        cast(product_row ->> 'price' as decimal(18, 2)) as price,
        cast(product_row ->> 'quantity' as decimal(18, 3)) as quantity,
        cast(product_row ->> 'discount_sum' as decimal(18, 2)) as discount,
        cast(product_row ->> 'sort' as integer) as sort_order
    from unnested
)

select * from renamed
