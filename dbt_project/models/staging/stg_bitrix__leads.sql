with

source as (
    {{ portal_union('leads') }}
),

renamed as (
    select
        portal,
        id as lead_id,
        title,
        source_id,
        status_id,
        status_semantic_id,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_content,
        utm_term,
        assigned_by_id as manager_id,
        created_by_id,
        contact_id,
        company_id,
        is_return_customer = 'Y' as is_repeat_customer,
        cast(opportunity as decimal(18, 2)) as amount,
        nullif(upper(currency_id), '') as currency,
        {{ utc('date_create') }} as created_at,
        {{ utc('date_modify') }} as modified_at,
        {{ utc('moved_time') }} as stage_changed_at,
        {{ utc('date_closed') }} as closed_at,
        bad_values,
        bad_values is not null as has_bad_values,
        {{ utc('observed_at') }} as observed_at
    from source
)

select * from renamed
