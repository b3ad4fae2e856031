{#- A sum of money as the marts' one money type (the contracts in _marts__models.yml): without
    it DuckDB widens a sum of decimal(18, 2) to decimal(38, 2), which many BI drivers read as
    text or a float. Overflow (beyond 10^16) fails the build instead of wrapping. -#}
{% macro money(expression) -%}
    cast({{ expression }} as decimal(18, 2))
{%- endmacro %}

{#- A sum of counts as bigint, the marts' one integer type (DuckDB sums bigint into hugeint). -#}
{% macro count_sum(expression) -%}
    cast(sum({{ expression }}) as bigint)
{%- endmacro %}

{#- An amount in a deal's own currency in the base currency, to the kopeck (`rate`: the
    currency's rate to the base currency, int_currency_rates). -#}
{% macro in_base(amount, rate) -%}
    cast(round({{ amount }} * {{ rate }}, 2) as decimal(18, 2))
{%- endmacro %}

{#- The join condition picking the rate of `currency` in force at `seen_at` on `portal` from
    int_currency_rates aliased `rates`. -#}
{% macro rate_in_force(rates, portal, currency, seen_at) -%}
    {{ rates }}.portal = {{ portal }}
    and {{ rates }}.currency = {{ currency }}
    and {{ rates }}.valid_from <= {{ seen_at }}
    and {{ seen_at }} < {{ rates }}.valid_to
{%- endmacro %}
