-- A currency's rate as the portal held it from the pass that saw it (docs/bitrix24-api.md §7):
-- AMOUNT_CNT units cost AMOUNT of the base currency, so one unit costs AMOUNT / AMOUNT_CNT. A
-- rate the portal answered as no positive number is null here (mart_data_quality lists it).
with

source as (
    {{ portal_union('currency_rates') }}
),

renamed as (
    select
        portal,
        upper(currency) as currency,
        full_name as currency_name,
        cast(amount / amount_cnt as decimal(28, 10)) as rate_to_base,
        base = 'Y' as is_base,
        coalesce(is_deleted, false) as is_deleted,
        {{ utc('observed_at') }} as observed_at
    from source
)

select * from renamed
