{#- Schemas are named staging, intermediate and marts, as BI users see them, not main_staging.
    On Postgres, where BI tools read the warehouse's own `marts`, dbt builds and tests the marts
    in `marts_build` and the publish step swaps the tested set in whole
    (orchestration/pipeline/warehouse/postgres.py). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set name = custom_schema_name | trim if custom_schema_name else target.schema -%}
    {{ name ~ '_build' if target.type == 'postgres' and name == 'marts' else name }}
{%- endmacro %}
