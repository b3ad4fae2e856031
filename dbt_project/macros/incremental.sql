{#- How the incremental models take only what changed (see `loaded_at` for the mark's rules). -#}

{#- The mark of an incremental model: per portal, the newest load it has built, from its own
    rows' `last_loaded_at`. A portal missing here (not built yet, or all its rows gone) takes
    every row. -#}
{% macro newest_load_built() -%}
    select portal, max(last_loaded_at) as last_loaded_at
    from {{ this }}
    group by portal
{%- endmacro %}

{#- Whether `loaded` (a row's load time) is at or after its portal's mark in `built`. -#}
{% macro loaded_since(loaded, built='built') -%}
    ({{ built }}.last_loaded_at is null or {{ loaded }} >= {{ built }}.last_loaded_at)
{%- endmacro %}

{#- Incremental strategy `replace_records`: the rows a run selects replace every row of the
    records they name (`unique_key` is the record's key, not the row's), and a record named
    by a row whose `row_key` column is null has no rows any more: it left the model (deleted
    on the portal, no longer live). dbt's delete+insert cannot take a record out, since a
    record without rows names no key. Delete and insert run in the model's one transaction. -#}
{% macro get_incremental_replace_records_sql(arg_dict) -%}
    {%- set target, source = arg_dict['target_relation'], arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }} as dbt_target
    where exists (
        select 1 from {{ source }} as dbt_source
        where
        {%- for key in arg_dict['unique_key'] %}
            dbt_source.{{ key }} = dbt_target.{{ key }}{{ ' and' if not loop.last }}
        {%- endfor %}
    );
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }}
    where {{ adapter.quote(config.require('row_key')) }} is not null
{%- endmacro %}
