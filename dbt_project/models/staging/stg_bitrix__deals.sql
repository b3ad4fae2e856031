with

source as (
    {{ portal_union('deals') }}
),

renamed as (
    select
        portal,
        id as deal_id,
        title,
        category_id as pipeline_id,
        stage_id,
        stage_semantic_id,
        type_id,
        lead_id,
        contact_id,
        company_id,
        source_id,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_content,
        utm_term,
        assigned_by_id as manager_id,
        created_by_id,
        cast(opportunity as decimal(18, 2)) as amount,
        nullif(upper(currency_id), '') as currency,
        closed = 'Y' as is_closed,
        is_recurring_template,
        is_return_customer = 'Y' as is_repeat_customer,
        is_repeated_approach = 'Y' as is_repeated_approach,
        begindate as planned_start_date,
        closedate as planned_close_date,
        {{ utc('date_create') }} as created_at,
        {{ utc('date_modify') }} as modified_at,
        {{ utc('moved_time') }} as stage_changed_at,
        bad_values,
        bad_values is not null as has_bad_values,
        {{ utc('observed_at') }} as observed_at
    from source
)

select * from renamed
