-- Each month's five sources with the most leads (Топ-5 источников), against the month before:
-- the dashboard's "top 5 sources by month", computed and tested here rather than in the BI
-- tool. Ties go to the source code's order; a source new in the month has no growth.
with

daily as (
    select * from {{ ref('mart_lead_sources_daily') }}
),

monthly as (
    select
        portal,
        {{ month_of('lead_date') }} as lead_month,
        source_id,
        {{ any_value('source_name') }} as source_name,
        {{ count_sum('leads_received') }} as leads,
        {{ money('sum(revenue)') }} as revenue
    from daily
    group by portal, {{ month_of('lead_date') }}, source_id
),

compared as (
    select
        this_month.portal,
        this_month.lead_month,
        this_month.source_id,
        this_month.source_name,
        this_month.leads,
        this_month.revenue,
        coalesce(previous.leads, 0) as previous_month_leads,
        {{ ratio('this_month.leads - previous.leads', 'previous.leads') }} as growth,
        row_number() over (
            partition by this_month.portal, this_month.lead_month
            order by this_month.leads desc, this_month.source_id
        ) as source_rank
    from monthly as this_month
    left join monthly as previous
        on previous.portal = this_month.portal
        and previous.source_id is not distinct from this_month.source_id
        and previous.lead_month = cast(this_month.lead_month - interval '1 month' as date)
),

final as (
    select
        compared.portal,
        compared.lead_month,
        compared.source_rank,
        compared.source_id,
        compared.source_name,
        compared.leads,
        compared.previous_month_leads,
        compared.growth,
        compared.revenue
    from compared
    where compared.source_rank <= 5
)

select * from final
