-- The take-up rule (doc block `take_up`, within `take_up_target_minutes`): per day the leads
-- arrived × the manager credited with them (the first responsible) × that manager's department
-- (branch, филиал).
with

leads as (
    select * from {{ ref('fct_leads') }}
),

managers as (
    select * from {{ ref('dim_managers') }}
),

daily as (
    select
        leads.portal,
        leads.created_date as lead_date,
        leads.first_manager_id as manager_id,
        count(*) as leads,
        count(leads.taken_up_at) as leads_taken_up,
        count(*) filter (where leads.is_taken_up_in_time) as leads_taken_up_in_time,
        {{ median('leads.take_up_minutes') }} as median_take_up_minutes
    from leads
    group by 1, 2, 3
),

final as (
    select
        daily.portal,
        daily.lead_date,
        daily.manager_id,
        managers.manager_name,
        managers.department_id,
        managers.department_name,
        daily.leads,
        daily.leads_taken_up,
        daily.leads_taken_up_in_time,
        {{ ratio('daily.leads_taken_up_in_time', 'daily.leads') }} as take_up_in_time_rate,
        daily.median_take_up_minutes
    from daily
    left join managers
        on daily.portal = managers.portal and daily.manager_id = managers.manager_id
)

select * from final
