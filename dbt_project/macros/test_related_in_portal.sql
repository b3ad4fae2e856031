{#- dbt's `relationships` on the portal's key: every non-null `column_name` has a row of `to`
    with that `field` on the same portal (lead 1 of one portal is no parent of another's rows). -#}
{% test related_in_portal(model, column_name, to, field) %}
select child.portal, child.{{ column_name }}
from {{ model }} as child
where child.{{ column_name }} is not null
    and not exists (
        select 1 from {{ to }} as parent
        where parent.portal = child.portal and parent.{{ field }} = child.{{ column_name }}
    )
{% endtest %}
