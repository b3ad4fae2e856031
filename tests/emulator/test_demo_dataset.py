"""The demo company: deterministic, shaped like the business of DESIGN.md, with its anomalies."""

from collections import Counter

import pytest

from emulator.data.datasets import load_dataset
from emulator.data.demo import ANOMALIES
from emulator.portal.portal import Portal


@pytest.fixture(scope="module")
def portal():
    p = Portal("unit-secret")
    p.clock.set(1_780_000_000, frozen=True)
    load_dataset(p, "demo", scale=0.2, seed=42)
    return p


def _rows(portal, sql, *args):
    return portal.store.db.execute(sql, args).fetchall()


def test_same_seed_and_clock_give_the_same_portal(portal):
    other = Portal("unit-secret")
    other.clock.set(1_780_000_000, frozen=True)
    load_dataset(other, "demo", scale=0.2, seed=42)
    for table in ("leads", "deals", "lead_history", "deal_history", "users", "contacts",
                  "activities", "product_rows"):
        sql = f'SELECT * FROM "{table}" ORDER BY 1'
        assert _rows(portal, sql) == _rows(other, sql), table


def test_volume_is_about_600_leads_a_day_times_scale_over_four_months(portal):
    leads = portal.store.table_count("lead")
    assert 0.8 * 600 * 0.2 * 120 <= leads <= 1.2 * 600 * 0.2 * 120


def test_avito_dominates_and_carries_ad_ids_and_groups(portal):
    sources = Counter(dict(_rows(portal, "SELECT SOURCE_ID, count(*) FROM leads GROUP BY 1")))
    assert sources.most_common(1)[0][0] == "UC_AVITO"
    assert sources["UC_AVITO"] > 0.5 * sum(sources.values())
    groups = {g for (g,) in _rows(
        portal, "SELECT DISTINCT UTM_CAMPAIGN FROM leads WHERE SOURCE_ID = 'UC_AVITO'"
        " AND UTM_MEDIUM = 'avito'")}
    assert groups == {"бампера", "железо", "оптика", "решетки", "аксессуары"}


def test_ad_popularity_has_a_long_tail(portal):
    counts = [n for (n,) in _rows(
        portal, "SELECT count(*) FROM leads WHERE UTM_MEDIUM = 'avito' AND UTM_SOURCE IS NOT NULL"
        " GROUP BY UTM_SOURCE ORDER BY 1 DESC")]
    top10 = sum(counts[:10])
    assert counts[0] >= 10 * counts[len(counts) // 2]  # hits far above the median ad
    assert sum(1 for c in counts if c == 1) > len(counts) / 3  # most ads bring one lead
    assert top10 < sum(counts)


def test_leads_change_hands_and_deals_grow(portal):
    reassigned = _rows(portal, "SELECT count(*) FROM leads WHERE ASSIGNED_BY_ID <> CREATED_BY_ID")
    assert reassigned[0][0] > 0
    stuck = _rows(portal, "SELECT count(*) FROM deals WHERE STAGE_SEMANTIC_ID = 'P'"
                  " AND MOVED_TIME < ?", 1_780_000_000 - 21 * 86_400)
    assert stuck[0][0] > 0


def test_two_funnels_with_several_loss_stages(portal):
    losses = _rows(portal, "SELECT CATEGORY_ID, count(DISTINCT STAGE_ID) FROM deals"
                   " WHERE STAGE_SEMANTIC_ID = 'F' GROUP BY 1 ORDER BY 1")
    assert [c for c, _ in losses] == [0, 1]
    assert all(n >= 2 for _, n in losses)


def test_team_has_branches_fired_managers_and_wholesale_seniors(portal):
    users = _rows(portal, "SELECT ACTIVE, UF_DEPARTMENT, WORK_POSITION FROM users")
    assert any(active == 0 for active, _, _ in users)
    assert any("опт" in (pos or "").lower() for _, _, pos in users)
    assert len({dept for _, dept, _ in users}) >= 4


def test_stage_history_agrees_with_current_stages(portal):
    mismatched = _rows(portal, """
        SELECT count(*) FROM deals d
        JOIN (SELECT OWNER_ID, STAGE_ID FROM deal_history h
              WHERE ID = (SELECT max(ID) FROM deal_history WHERE OWNER_ID = h.OWNER_ID)) last
          ON last.OWNER_ID = d.ID
        WHERE last.STAGE_ID <> d.STAGE_ID""")
    assert mismatched[0][0] == 0
    created_rows = _rows(portal, "SELECT count(*) FROM deal_history WHERE TYPE_ID = 1")
    assert created_rows[0][0] == portal.store.table_count("deal")


def test_ids_grow_with_creation_time_as_auto_increment_does(portal):
    for table, column in (("leads", "DATE_CREATE"), ("deals", "DATE_CREATE"),
                          ("lead_history", "CREATED_TIME"), ("deal_history", "CREATED_TIME")):
        times = [t for (t,) in _rows(portal, f'SELECT {column} FROM "{table}" ORDER BY "ID"')]
        assert times == sorted(times), table


def test_every_listed_anomaly_is_present(portal):
    checks = {
        "empty_status": "SELECT count(*) FROM leads WHERE STATUS_ID = ''",
        "unknown_status": "SELECT count(*) FROM leads WHERE STATUS_ID = 'UC_OLDSTAGE'",
        "junk_utm_test_day": "SELECT count(*) FROM leads WHERE UTM_MEDIUM = 'test'",
        "missing_utm": "SELECT count(*) FROM leads WHERE SOURCE_ID = 'UC_AVITO'"
                       " AND UTM_SOURCE IS NULL",
        "huge_title": "SELECT count(*) FROM leads WHERE length(TITLE) >= 100000"
                      " AND TITLE LIKE '%🚗%' AND TITLE LIKE '%\"%'",
        "deal_without_lead": "SELECT count(*) FROM deals WHERE LEAD_ID IS NULL",
        "recurring_template": "SELECT count(*) FROM deals WHERE IS_RECURRING = 'Y'",
    }
    assert set(checks) == set(ANOMALIES)
    for name, sql in checks.items():
        assert _rows(portal, sql)[0][0] > 0, name


def test_a_lead_created_at_night_keeps_its_local_time(portal):
    night = _rows(portal, "SELECT DATE_CREATE FROM leads ORDER BY ID")
    hours = Counter(portal.clock.to_local(ts).hour for (ts,) in night)
    assert hours[1] > 0 and hours[11] > hours[3]


def test_every_customer_exists_and_repeat_ones_have_several_leads(portal):
    missing = _rows(portal, "SELECT count(*) FROM (SELECT CONTACT_ID FROM leads UNION"
                            " SELECT CONTACT_ID FROM deals) WHERE CONTACT_ID NOT IN"
                            ' (SELECT "ID" FROM contacts)')
    assert missing == [(0,)]
    repeat = _rows(portal, "SELECT count(*) FROM (SELECT CONTACT_ID FROM leads GROUP BY 1"
                           " HAVING count(*) > 1)")[0][0]
    assert repeat > 0


def test_a_deals_product_rows_add_up_to_its_amount(portal):
    off = _rows(portal, "SELECT count(*) FROM deals d JOIN (SELECT OWNER_ID, sum(PRICE * QUANTITY)"
                        " AS total FROM product_rows WHERE OWNER_TYPE = 'D' GROUP BY 1) p"
                        ' ON p.OWNER_ID = d."ID" WHERE abs(p.total - CAST(d.OPPORTUNITY AS REAL))'
                        " > 0.005")
    assert off == [(0,)]
    with_rows = _rows(portal, "SELECT count(DISTINCT OWNER_ID) FROM product_rows")[0][0]
    templates = _rows(portal, "SELECT count(*) FROM deals WHERE IS_RECURRING = 'Y'")[0][0]
    assert with_rows == portal.store.table_count("deal") - templates


def test_most_leads_are_answered_by_a_call_or_chat_of_their_manager(portal):
    answered = _rows(portal, "SELECT count(DISTINCT OWNER_ID) FROM activities"
                             " WHERE OWNER_TYPE_ID = 1")[0][0]
    assert 0.85 < answered / portal.store.table_count("lead") < 0.97
    orphans = _rows(portal, "SELECT count(*) FROM activities a WHERE NOT EXISTS (SELECT 1 FROM"
                            ' leads l WHERE a.OWNER_TYPE_ID = 1 AND l."ID" = a.OWNER_ID) AND NOT'
                            ' EXISTS (SELECT 1 FROM deals d WHERE a.OWNER_TYPE_ID = 2'
                            ' AND d."ID" = a.OWNER_ID)')
    assert orphans == [(0,)]
    created = [t for (t,) in _rows(portal, 'SELECT CREATED FROM activities ORDER BY "ID"')]
    assert created == sorted(created)
