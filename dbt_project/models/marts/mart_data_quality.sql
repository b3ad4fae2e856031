-- What is wrong with a portal's data, one row per portal and check, with counts and example
-- IDs, so the integrator can fix it at the source. Every check of every registered portal is
-- listed, failing or not.
with

portal_list as (
    {{ portal_rows() }}
),

leads as (
    select * from {{ ref('fct_leads') }}
),

-- live deals and recurring templates (which fct_deals leaves out)
deals as (
    select * from {{ ref('int_deals_classified') }}
    where not is_deleted
),

lead_checks as (
    select
        portal,
        lead_id as record_id,
        coalesce(status_id, '') = '' as is_empty_status,
        coalesce(status_id, '') <> '' and not is_status_known as is_unknown_status,
        source_id in ({% for s in var('ad_sources') %}'{{ s }}'{{ ", " if not loop.last }}{% endfor %})
            and ad_id is null as is_missing_ad_id,
        {{ regexp_found("lower(coalesce(utm_source, ''))", var('junk_utm_pattern')) }}
            or {{ regexp_found("lower(coalesce(utm_medium, ''))", var('junk_utm_pattern')) }}
            or {{ regexp_found("lower(coalesce(utm_campaign, ''))", var('junk_utm_pattern')) }}
            as is_junk_utm,
        has_bad_values
    from leads
),

deal_checks as (
    select
        portal,
        deal_id as record_id,
        lead_id is null and not is_recurring_template as is_without_lead,
        lead_id is null and coalesce(utm_source, '') = '' and not is_recurring_template
            as is_without_source,
        stage_name is null as is_unknown_stage,
        amount is not null and exchange_rate is null as is_without_rate,
        has_bad_values,
        is_recurring_template
    from deals
),

checks as (
    {%- set checks = [
        ('empty_lead_status', 'lead', 'is_empty_status', 'Leads with an empty status (Стадия): counted as in work'),
        ('unknown_lead_status', 'lead', 'is_unknown_status', 'Leads in a stage missing from the dictionary'),
        ('missing_ad_id', 'lead', 'is_missing_ad_id', 'Leads from an ad source without an ad ID in UTM_SOURCE'),
        ('junk_utm_tags', 'lead', 'is_junk_utm', 'Leads whose UTM tags are test values, not campaigns'),
        ('unparsable_lead_values', 'lead', 'has_bad_values', 'Leads with an amount or date that does not parse'),
        ('deals_without_lead', 'deal', 'is_without_lead', 'Deals created without a lead: credited by their own UTM tags'),
        ('deals_without_lead_or_utm', 'deal', 'is_without_source', 'Deals without a lead and without UTM_SOURCE: no source to credit'),
        ('unknown_deal_stage', 'deal', 'is_unknown_stage', 'Deals in a stage missing from their funnel'),
        ('unparsable_deal_values', 'deal', 'has_bad_values', 'Deals with an amount or date that does not parse'),
        ('deal_currency_without_rate', 'deal', 'is_without_rate', 'Deals in a currency the portal gives no usable rate for (Валюты): no amount in the base currency'),
        ('recurring_templates', 'deal', 'is_recurring_template', 'Recurring-deal templates (not deals, never revenue)'),
    ] %}
    {% for name, entity, flag, description in checks %}
    select
        portal_list.portal,
        '{{ name }}' as check_name,
        '{{ entity }}' as entity,
        '{{ description }}' as description,
        count(*) filter (where checks.{{ flag }}) as failing_rows,
        count(checks.record_id) as checked_rows,
        (array_agg(checks.record_id order by checks.record_id)
            filter (where checks.{{ flag }}))[1:5] as example_ids
    from portal_list
    left join {{ entity }}_checks as checks on portal_list.portal = checks.portal
    group by portal_list.portal
    {{ "union all" if not loop.last }}
    {% endfor %}
),

final as (
    select
        portal,
        check_name,
        entity,
        description,
        failing_rows,
        checked_rows,
        {{ ratio('failing_rows', 'checked_rows') }} as failing_share,
        coalesce(example_ids, cast(array[] as bigint[])) as example_ids
    from checks
)

select * from final
