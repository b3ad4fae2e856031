-- What the observed versions say about each deal: the first version (and whether it was seen
-- at creation, which is the only way its amount is the amount at creation), and the first version
-- in a final stage (the amount and the manager at close).
with

versions as (
    select * from {{ ref('stg_bitrix__deal_versions') }}
),

ranked as (
    select
        *,
        row_number() over (partition by deal_id order by modified_at, observed_at) as version_number,
        row_number() over (
            partition by deal_id, stage_semantic_id in ('S', 'F')
            order by modified_at, observed_at
        ) as final_version_number
    from versions
),

firsts as (
    select
        deal_id,
        amount as first_seen_amount,
        modified_at = created_at as is_first_seen_at_creation
    from ranked
    where version_number = 1
),

at_close as (
    select deal_id, amount as amount_at_close, manager_id as manager_at_close_id
    from ranked
    where stage_semantic_id in ('S', 'F') and final_version_number = 1
),

final as (
    select
        firsts.deal_id,
        firsts.first_seen_amount,
        firsts.is_first_seen_at_creation,
        at_close.amount_at_close,
        at_close.manager_at_close_id
    from firsts
    left join at_close on firsts.deal_id = at_close.deal_id
)

select * from final
