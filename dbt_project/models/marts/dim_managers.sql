-- Every employee the portal lists (сотрудник), dismissed ones included: the one place marts and
-- dashboards take a manager's name and department from. A dismissed manager keeps his history
-- and his name; one the portal no longer lists keeps the name it had.
with

users as (
    select * from {{ ref('stg_bitrix__users') }}
),

departments as (
    select * from {{ ref('stg_bitrix__departments') }}
),

final as (
    select
        users.portal,
        users.user_id as manager_id,
        coalesce(nullif(users.user_name, ''), 'Сотрудник #' || cast(users.user_id as varchar))
            as manager_name,
        nullif(users.work_position, '') as work_position,
        users.department_id,
        departments.department_name,
        coalesce(users.is_active, true) and not users.is_deleted as is_active,
        case
            when users.is_deleted then 'removed'
            when not coalesce(users.is_active, true) then 'dismissed'
            else 'active'
        end as employment_status
    from users
    left join departments
        on users.portal = departments.portal and users.department_id = departments.department_id
)

select * from final
