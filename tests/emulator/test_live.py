"""Live activity, tick by tick in process: every kind of change goes through the write path."""

from emulator.data.datasets import load_dataset
from emulator.data.live import LiveActivity
from emulator.portal.portal import Portal


def test_ticks_answer_leads_and_grow_deals_through_their_product_rows():
    portal = Portal("unit-secret")
    load_dataset(portal, "demo", scale=0.02, seed=7)
    store = portal.store
    before = {t: store.table_count(t) for t in ("lead", "activity", "product_row")}
    live = LiveActivity(portal)
    for _ in range(60):
        live.tick()
    after = {t: store.table_count(t) for t in ("lead", "activity", "product_row")}
    assert after["activity"] > before["activity"] and after["product_row"] > before["product_row"]
    # a deal's amount is still the sum of its rows, whatever live activity added to it
    off = store.db.execute(
        "SELECT count(*) FROM deals d JOIN (SELECT OWNER_ID, sum(PRICE * QUANTITY) AS total"
        " FROM product_rows WHERE OWNER_TYPE = 'D' GROUP BY 1) p ON p.OWNER_ID = d.\"ID\""
        " WHERE abs(p.total - CAST(d.OPPORTUNITY AS REAL)) > 0.005"
    ).fetchone()[0]
    assert off == 0
