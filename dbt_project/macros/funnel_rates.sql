{#- The rate columns of a funnel mart over `relation` (one row per stage of a funnel cell named
    by `cell`): reached_rate, the previous in-progress stage's reached and the conversion from
    it. Failure stages have no conversion; the first stage converts from the cohort. -#}
{% macro funnel_rates(relation, cell) -%}
select
    *,
    {{ ratio('reached', 'cohort_size') }} as reached_rate,
    case
        when semantic_id in ('P', 'S') then {{ ratio('reached', 'previous_stage_reached') }}
    end as conversion_from_previous
from (
    select
        *,
        coalesce(
            lag(reached) over (
                partition by {{ cell | join(', ') }}, semantic_id in ('P', 'S')
                order by stage_position
            ),
            cohort_size
        ) as previous_stage_reached
    from {{ relation }}
) as with_previous
{%- endmacro %}
