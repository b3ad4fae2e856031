-- Activity type and direction codes: crm/data-types.md#activity-enums (TYPE_ID 1 meeting, 2 call,
-- 3 task, 4 e-mail, 6 a provider's activity such as an open-line chat; DIRECTION 1 in, 2 out).
with

source as (
    {{ portal_union('activities') }}
),

renamed as (
    select
        portal,
        id as activity_id,
        case owner_type_id when 1 then 'lead' when 2 then 'deal' when 3 then 'contact'
            when 4 then 'company' end as owner_entity,
        owner_id,
        type_id as activity_type_id,
        case
            when type_id = 2 then 'call'
            when type_id = 4 then 'email'
            when type_id = 1 then 'meeting'
            when type_id = 3 then 'task'
            when provider_id = 'IMOPENLINES_SESSION' then 'chat'
            else 'other'
        end as activity_kind,
        provider_id,
        subject,
        case direction when 1 then 'incoming' when 2 then 'outgoing' end as direction,
        responsible_id as manager_id,
        author_id,
        completed = 'Y' as is_completed,
        {{ utc('created') }} as created_at,
        {{ utc('last_updated') }} as modified_at,
        {{ utc('start_time') }} as started_at,
        {{ utc('end_time') }} as ended_at,
        {{ utc('observed_at') }} as observed_at
    from source
)

select * from renamed
