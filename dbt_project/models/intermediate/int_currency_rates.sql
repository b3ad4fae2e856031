{{ config(materialized='table') }}
-- The rate of each currency to the portal's base currency (the one crm.currency.list marks BASE
-- now), over the time it was in force: one row per currency and period between two moments a
-- sync saw any rate change. An amount read at `t` converts at the row whose period holds `t`.
-- Rates are the portal's own, relative to the base currency of their moment; after the portal
-- changed its base currency, a period's rate is the cross rate of that moment (the currency's
-- rate over the new base currency's rate), so every amount lands in today's base currency.
-- The first period reaches back to 1970: a deal read before the first rate a sync saw (a
-- warehouse upgraded to this release) converts at that first rate.
with

rates as (
    select * from {{ ref('stg_bitrix__currency_rates') }}
),

spans as (
    -- each rate row in force until the currency's next one; a currency's first row from 1970
    select
        portal,
        currency,
        rate_to_base,
        is_base,
        is_deleted,
        case
            when row_number() over (partition by portal, currency order by observed_at) = 1
                then timestamp '1970-01-01 00:00:00'
            else observed_at
        end as valid_from,
        coalesce(
            lead(observed_at) over (partition by portal, currency order by observed_at),
            timestamp '9999-12-31 00:00:00'
        ) as valid_to,
        row_number() over (partition by portal, currency order by observed_at desc) as newest
    from rates
),

periods as (
    -- the moments any rate of a portal changed cut its time into periods in which none does
    select
        portal,
        valid_from,
        coalesce(
            lead(valid_from) over (partition by portal order by valid_from),
            timestamp '9999-12-31 00:00:00'
        ) as valid_to
    from (select distinct portal, valid_from from spans) as starts
),

in_force as (
    select periods.portal, periods.valid_from, periods.valid_to, spans.currency,
        spans.rate_to_base
    from periods
    inner join spans
        on spans.portal = periods.portal
        and spans.valid_from <= periods.valid_from and periods.valid_from < spans.valid_to
),

base_now as (
    select portal, currency from spans where newest = 1 and is_base and not is_deleted
),

final as (
    select
        currency.portal,
        currency.currency,
        base_now.currency as base_currency,
        currency.valid_from,
        currency.valid_to,
        cast(currency.rate_to_base / nullif(base.rate_to_base, 0) as decimal(28, 10))
            as rate_to_base
    from in_force as currency
    inner join base_now on currency.portal = base_now.portal
    inner join in_force as base
        on base.portal = currency.portal
        and base.valid_from = currency.valid_from and base.currency = base_now.currency
)

select * from final
