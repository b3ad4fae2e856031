"""Portal datasets: a new, empty portal, and a seeded auto-parts seller for demos and tests.

`empty` is what a new Bitrix24 portal has: the default lead and deal stage dictionaries, the
default source and deal-type dictionaries, funnel 0 and one admin user (ID 1).

`demo` is the company of DESIGN.md: a Russian auto-parts seller with several branches, about 30
managers at scale 1 (some senior with wholesale clients, some fired, one on leave), ~600 leads a day
for four months ending at the portal clock's now, Avito dominant (`UTM_SOURCE` = the ad ID from a
pool of 150,000 ads with a long-tail popularity, `UTM_CAMPAIGN` = the ad group), calls, the site
and chats; custom lead stages and two deal funnels (retail, wholesale) whose failure stages act as
loss reasons, a few retail deals moved on to the wholesale funnel; repeat customers (leads and
deals flagged IS_RETURN_CUSTOMER); leads handed between managers; deals whose amount grew before
closing; deals stuck for weeks; deals the Avito integration created without a lead;
recurring-deal templates; and the anomalies real portals have (listed in `ANOMALIES`).
`scale` multiplies the daily volume (and the team by its square root). Same seed and clock → the
same portal, row for row.

Faker (ru_RU) supplies names: it is called once per pool, not per row, since a Faker call costs
tens of microseconds and scale 10 has 720,000 leads.
"""

from emulator.data.company import CompanyModel
from emulator.data.demo import DemoGenerator
from emulator.store.defaults import load_empty
from emulator.portal.portal import Portal


def load_dataset(portal: Portal, dataset: str, scale: float = 1.0, seed: int = 42) -> dict:
    """Replace the portal's data with a dataset; returns row counts."""
    if dataset not in ("empty", "demo"):
        raise ValueError("dataset must be 'empty' or 'demo'")
    if not 0 < scale <= 100:
        raise ValueError("scale must be within (0, 100]")
    store = portal.store
    portal.events.clear()  # a new portal: no handlers bound, nothing announced while loading
    store.create_schema()
    store.begin()
    try:
        if dataset == "empty":
            load_empty(store)
            portal.model = CompanyModel.from_store(portal, seed)
        else:
            portal.model = DemoGenerator(portal, scale, seed).run()
        store.commit()
    except BaseException:
        store.db.execute("ROLLBACK")
        raise
    portal.dataset = dataset
    portal.bucket.reset()
    portal.budget.reset()
    return {
        "leads": store.table_count("lead"),
        "deals": store.table_count("deal"),
        "lead_history": store.table_count("lead_history"),
        "deal_history": store.table_count("deal_history"),
        "users": store.table_count("user"),
    }
