{#- A data-quality check fails when it has failing rows. Configured to warn: the portal's data
    being imperfect must never stop the marts from building. -#}
{% test check_passes(model) %}
select check_name, failing_rows
from {{ model }}
where failing_rows > 0
{% endtest %}
