{#- A timestamptz column from the raw layer as a UTC timestamp (the `*_at` convention). -#}
{% macro utc(column) -%}
    cast(({{ column }}) at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- A UTC timestamp's calendar date in its portal's zone (the `*_date` convention): a lead created
    at 2024-04-22 22:30 UTC is a Moscow lead of April 23. `portal`: the column naming the row's
    portal, needed only when the portals' zones differ (a portal without a zone of its own, or
    no longer registered, is in var `portal_timezone`). -#}
{% macro portal_date(utc_timestamp, portal="portal") -%}
    {%- set default = var("portal_timezone") -%}
    {%- set zones = {} -%}
    {%- for p in portals() -%}
        {%- do zones.update({p.name: p.timezone or default}) -%}
    {%- endfor -%}
    {%- if zones.values() | unique | list | length <= 1 -%}
        {{ _local_date(utc_timestamp, (zones.values() | list or [default])[0]) }}
    {%- else -%}
        case {{ portal }}
        {%- for name, zone in zones.items() %}
            when {{ dbt.string_literal(name) }} then {{ _local_date(utc_timestamp, zone) }}
        {%- endfor %}
            else {{ _local_date(utc_timestamp, default) }}
        end
    {%- endif -%}
{%- endmacro %}

{% macro _local_date(utc_timestamp, zone) -%}
    cast(timezone({{ dbt.string_literal(zone) }}, timezone('UTC', {{ utc_timestamp }})) as date)
{%- endmacro %}

{#- When dlt loaded a raw row (its load ID is the load's start, unix seconds), UTC. Incremental
    models pick up the rows loaded since their last build by it: unlike portal times, it grows
    with every load of a portal, whatever the rows' own dates. Two rules keep that true:
    - the mark is per portal: portals are read side by side and commit in turn, so a slow
      portal's load can commit after a build has seen a later-started load of another portal;
      one portal's loads never overlap (its load lock), so its own IDs only grow;
    - the mark is inclusive (`>=`): a killed run's package may commit some tables before a
      build and the rest after it, all under one load ID; the newest load's records are
      summarised again, which the delete+insert makes harmless. -#}
{% macro loaded_at() -%}
    cast(to_timestamp(cast(_dlt_load_id as double precision)) at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- The first day of a local date's month, as a date (the month buckets of the marts). -#}
{% macro month_of(local_date) -%}
    cast(date_trunc('month', {{ local_date }}) as date)
{%- endmacro %}
