{#- What DuckDB and PostgreSQL spell differently, one macro a construct (dbt's adapter.dispatch:
    `duckdb__` is the DuckDB body, `default__` the standard one Postgres runs). Models use these,
    never an engine's own function, so one project builds on both. -#}

{#- The median of a column; followed by `filter (where …)` where only some rows count. -#}
{% macro median(expression) -%}{{ adapter.dispatch('median')(expression) }}{%- endmacro %}
{% macro duckdb__median(expression) -%}median({{ expression }}){%- endmacro %}
{% macro default__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{#- `value` of the row with the greatest `key`; rows where either is null do not count. -#}
{% macro arg_max(value, key) -%}{{ adapter.dispatch('arg_max')(value, key) }}{%- endmacro %}
{% macro duckdb__arg_max(value, key) -%}arg_max({{ value }}, {{ key }}){%- endmacro %}
{% macro default__arg_max(value, key) -%}
    (array_agg({{ value }} order by {{ key }} desc)
        filter (where {{ value }} is not null and {{ key }} is not null))[1]
{%- endmacro %}

{#- One of a group's non-null values (the group's rows all hold the same one). -#}
{% macro any_value(expression) -%}{{ adapter.dispatch('any_value')(expression) }}{%- endmacro %}
{% macro duckdb__any_value(expression) -%}any_value({{ expression }}){%- endmacro %}
{% macro default__any_value(expression) -%}min({{ expression }}){%- endmacro %}

{#- Whole seconds from one timestamp to a later one, as bigint. -#}
{% macro seconds_between(start, end) -%}
    {{ adapter.dispatch('seconds_between')(start, end) }}
{%- endmacro %}
{% macro duckdb__seconds_between(start, end) -%}date_diff('second', {{ start }}, {{ end }}){%- endmacro %}
{% macro default__seconds_between(start, end) -%}
    cast(trunc(extract(epoch from ({{ end }}) - ({{ start }}))) as bigint)
{%- endmacro %}

{#- The first match of a regular expression in a text; '' when none. -#}
{% macro regexp_first(expression, pattern) -%}
    {{ adapter.dispatch('regexp_first')(expression, pattern) }}
{%- endmacro %}
{% macro duckdb__regexp_first(expression, pattern) -%}
    regexp_extract({{ expression }}, '{{ pattern }}', 0)
{%- endmacro %}
{% macro default__regexp_first(expression, pattern) -%}
    coalesce(substring({{ expression }} from '{{ pattern }}'), '')
{%- endmacro %}

{#- Whether a regular expression matches anywhere in a text. -#}
{% macro regexp_found(expression, pattern) -%}
    {{ adapter.dispatch('regexp_found')(expression, pattern) }}
{%- endmacro %}
{% macro duckdb__regexp_found(expression, pattern) -%}
    regexp_matches({{ expression }}, '{{ pattern }}')
{%- endmacro %}
{% macro default__regexp_found(expression, pattern) -%}({{ expression }} ~ '{{ pattern }}'){%- endmacro %}

{#- A JSON array column's elements, one row each (in a select list). -#}
{% macro json_elements(column) -%}{{ adapter.dispatch('json_elements')(column) }}{%- endmacro %}
{% macro duckdb__json_elements(column) -%}unnest(from_json({{ column }}, '["json"]')){%- endmacro %}
{% macro default__json_elements(column) -%}jsonb_array_elements({{ column }}){%- endmacro %}

{#- Every column of `relation` but those in `except`, as a select list (`* exclude`, which
    Postgres lacks). `prefix`: the relation's alias in the query. -#}
{% macro star_except(relation, except, prefix=none) -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- if column.name | lower not in except -%}
            {%- do names.append((prefix ~ '.' if prefix else '') ~ adapter.quote(column.name)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ names | join(', ') if names else '*' }}
{%- endmacro %}

{#- The time from `start` to `end` in units of `unit_seconds` (60: minutes, 86400: days),
    rounded to `digits` half away from zero, as double precision. Rounded exactly on both
    engines: DuckDB's round() of a double rounds 4.585 days down to 4.58 (its binary value is
    4.58499…), Postgres' of a numeric up to 4.59; the marts must not depend on the engine. -#}
{% macro elapsed(start, end, unit_seconds, digits) -%}
    {{ adapter.dispatch('elapsed')(start, end, unit_seconds, digits) }}
{%- endmacro %}
{% macro duckdb__elapsed(start, end, unit_seconds, digits) -%}
    {%- set seconds = seconds_between(start, end) -%}
    {%- set scale = 10 ** digits -%}
    {#- whole seconds, so (2·|s|·10^d + unit) / (2·unit) is exact enough for floor() -#}
    sign({{ seconds }}) * floor((2 * abs({{ seconds }}) * {{ scale }} + {{ unit_seconds }})
        / (2 * {{ unit_seconds }})) / {{ scale }}
{%- endmacro %}
{% macro default__elapsed(start, end, unit_seconds, digits) -%}
    cast(round({{ seconds_between(start, end) }} / {{ unit_seconds }}.0, {{ digits }}) as double precision)
{%- endmacro %}

{#- A rate: `numerator / denominator` as double precision, null when the denominator is 0.
    Postgres divides integers into an integer (1 / 4 = 0); DuckDB into a double. -#}
{% macro ratio(numerator, denominator) -%}
    cast({{ numerator }} as double precision) / nullif({{ denominator }}, 0)
{%- endmacro %}

{#- A post-hook: on Postgres, the statistics of a table just built. Without them the planner
    takes a new table for empty and nests loops over the next model's joins (int_funnel_counts:
    36 s instead of under one at demo scale 0.05). DuckDB needs none. -#}
{% macro analyze_built_table() -%}
    {%- if target.type == 'postgres' and config.get('materialized') in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- A pre-hook: on Postgres, no nested-loop joins within the model's transaction. Its CTEs
    used twice are materialized and their filtered scans estimated at one row, so the planner
    nests loops over thousands (int_funnel_counts: 144 M comparisons at demo scale 0.05); hash
    joins are what these whole-table models want. And no JIT: a join only a nested loop can do
    (an inequality) then carries the planner's penalty cost, which passes every JIT threshold,
    and LLVM spent 2.3 s compiling fct_deals for one row (a near-empty build: 20 s, 3 s
    without). Set locally: both end with the model. -#}
{% macro hash_joins() -%}
    {%- if target.type == 'postgres' -%}set local enable_nestloop = off; set local jit = off{%- endif -%}
{%- endmacro %}

{#- Whether an incremental model's existing table has `column` (a table an older release built
    lacks the newest one and is rebuilt whole). A unit test's mocked `this` has every column. -#}
{% macro has_column(relation, column) -%}
    {%- if relation is string -%}{{ return(true) }}{%- endif -%}
    {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name')
                    | map('lower') | list -%}
    {{ return(column in names) }}
{%- endmacro %}
