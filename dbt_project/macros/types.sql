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
