{#- No rows may share the same values of `columns` (dbt_utils' test, without the package:
    dbt's package hub is out of this project's reach). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as duplicates
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
