with

source as (
    {{ portal_union('lead_versions') }}
),

renamed as (
    select
        portal,
        version_key,
        id as lead_id,
        assigned_by_id as manager_id,
        status_id,
        cast(opportunity as decimal(18, 2)) as amount,
        {{ utc('date_create') }} as created_at,
        {{ utc('date_modify') }} as modified_at,
        {{ utc('observed_at') }} as observed_at,
        {{ loaded_at() }} as loaded_at
    from source
)

select * from renamed
