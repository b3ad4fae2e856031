with

source as (
    {{ portal_union('contacts') }}
),

renamed as (
    select
        portal,
        id as contact_id,
        type_id as contact_type,
        source_id,
        assigned_by_id as manager_id,
        company_id,
        {{ utc('date_create') }} as created_at,
        {{ utc('date_modify') }} as modified_at,
        {{ utc('observed_at') }} as observed_at
    from source
)

select * from renamed
