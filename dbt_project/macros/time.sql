{#- A timestamptz column from the raw layer as a UTC timestamp (the `*_at` convention). -#}
{% macro utc(column) -%}
    cast(({{ column }}) at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- A UTC timestamp's calendar date in the portal's zone (the `*_date` convention): a lead created
    at 2024-04-22 22:30 UTC is a Moscow lead of April 23. -#}
{% macro portal_date(utc_timestamp) -%}
    cast(timezone('{{ var("portal_timezone") }}', timezone('UTC', {{ utc_timestamp }})) as date)
{%- endmacro %}

{#- When dlt loaded a raw row (its load ID is the load's start, unix seconds), UTC. Incremental
    models pick up the rows loaded after their last build by it: unlike portal times, it grows
    with every load, whatever the rows' own dates. -#}
{% macro loaded_at() -%}
    cast(to_timestamp(cast(_dlt_load_id as double precision)) at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- The first day of a local date's month, as a date (the month buckets of the marts). -#}
{% macro month_of(local_date) -%}
    cast(date_trunc('month', {{ local_date }}) as date)
{%- endmacro %}
