{#- Attribution: each deal's credits under each model add up to exactly 1. -#}
{% test credits_sum_to_one(model) %}
select portal, deal_id, model, sum(credit) as total_credit
from {{ model }}
group by portal, deal_id, model
having abs(sum(credit) - 1) > 0.0001
{% endtest %}
