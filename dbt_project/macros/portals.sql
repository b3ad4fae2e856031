{#- The portals a build serves: var `portals`, a list of {name, schema, timezone} that the pipeline
    hands over from its registry (`orchestration/pipeline/portals.py`). Without it, the one portal
    `main` in the `bitrix` source's schema (bitrix_raw), in the zone of var `portal_timezone`. -#}
{% macro portals() -%}
    {%- set default = [{"name": "main", "schema": "bitrix_raw",
                        "timezone": var("portal_timezone")}] -%}
    {{- return(var("portals", default)) -}}
{%- endmacro %}

{#- A raw table of every portal, unioned, with the portal's name in the first column `portal`
    (Fivetran's `source_relation` pattern). One portal: its table as it is. Several: each
    portal's columns by name (a portal without a column gives nulls; a column typed differently
    by two portals is text), and a portal that has not loaded the table yet is left out. The
    source reference keeps the lineage (Dagster's raw assets) whatever the portals. -#}
{% macro portal_union(table) -%}
    {%- set relation = source("bitrix", table) -%}
    {%- set portals = portals() -%}
    {%- if portals | length == 1 -%}
        select {{ dbt.string_literal(portals[0].name) }} as portal, *
        from {{ relation.incorporate(path={"schema": portals[0].schema}) }}
    {%- elif not execute -%}
        select {{ dbt.string_literal("") }} as portal, * from {{ relation }}
    {%- else -%}
        {%- set parts = [] -%}
        {%- for portal in portals -%}
            {%- set found = adapter.get_relation(database=relation.database,
                                                 schema=portal.schema, identifier=table) -%}
            {%- if found is not none -%}
                {%- do parts.append((portal.name, found, adapter.get_columns_in_relation(found))) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if not parts -%}
            {{ exceptions.raise_compiler_error("no portal has loaded " ~ table ~ " yet") }}
        {%- endif -%}
        {%- set types = {} -%}
        {%- set names = [] -%}
        {%- for _, _, columns in parts -%}
            {%- for column in columns -%}
                {%- set name = column.name | lower -%}
                {%- if name not in types -%}
                    {%- do names.append(name) -%}
                    {%- do types.update({name: column.data_type}) -%}
                {%- elif types[name] != column.data_type -%}
                    {%- do types.update({name: dbt.type_string()}) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- for name_, found, columns in parts %}
        {% if not loop.first %}union all{% endif %}
        select {{ dbt.string_literal(name_) }} as portal
            {%- set have = {} -%}
            {%- for column in columns -%}{%- do have.update({column.name | lower: column.data_type}) -%}{%- endfor -%}
            {%- for name in names %},
            {% if name in have and have[name] == types[name] -%}
                {{ adapter.quote(name) }}
            {%- elif name in have -%}
                cast({{ adapter.quote(name) }} as {{ types[name] }}) as {{ adapter.quote(name) }}
            {%- else -%}
                cast(null as {{ types[name] }}) as {{ adapter.quote(name) }}
            {%- endif -%}
            {%- endfor %}
        from {{ found }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- An incremental model's pre-hook: a `this` built by a release before `column` was part of its
    key is emptied, so the run takes every row again (a delete+insert keyed on a column the old
    rows lack would keep them beside the new ones). -#}
{% macro rebuild_without(column) -%}
    {%- if is_incremental() and not has_column(this, column) -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- The registered portals as rows of one column `portal`: what a mart that lists every portal,
    data or not, starts from. -#}
{% macro portal_rows() -%}
    {%- for portal in portals() %}
    select {{ dbt.string_literal(portal.name) }} as portal
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}
