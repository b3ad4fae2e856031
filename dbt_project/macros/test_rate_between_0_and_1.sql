{#- A rate is a fraction: never below 0 or above 1 (null when its denominator is 0). -#}
{% test rate_between_0_and_1(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} < 0 or {{ column_name }} > 1
{% endtest %}
