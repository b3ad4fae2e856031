"""The demo company's four months of history, generated: the team, the leads day by day with
their deals, the deals the Avito integration made without a lead, recurring templates and the
anomalies real portals have (`ANOMALIES`). See `emulator.data.datasets` for what the portal holds."""

import bisect
import itertools
import math
import random

from emulator.data.company import AD_GROUPS, CAR_BRANDS, DAY, DAYS, DEMO_LEAD_STAGES, DEMO_RETAIL_STAGES, DEMO_SOURCES, DEMO_WHOLESALE_STAGES, LEADS_PER_DAY, CompanyModel, hire_team
from emulator.data.records import DemoRecords
from emulator.data.relations import ACTIVITY_COLUMNS, PRODUCT_COLUMNS
from emulator.store.defaults import add_stages, load_empty
from emulator.portal.portal import Portal

ANOMALIES = {
    "empty_status": "leads whose STATUS_ID is empty (a broken import)",
    "unknown_status": "leads in a stage later removed from the dictionary (UC_OLDSTAGE)",
    "junk_utm_test_day": "one day on which an integrator's test tagged every lead with junk UTMs",
    "missing_utm": "Avito leads that arrived without the ad ID in UTM_SOURCE",
    "huge_title": "a lead whose title is 100 KB long, with emoji and quotes",
    "deal_without_lead": "deals created directly (repeat customers) or by the Avito integration"
    " (the ad ID in their own UTM_SOURCE), so LEAD_ID is empty",
    "recurring_template": "recurring-deal templates (IS_RECURRING = Y), which are not deals",
}


class DemoGenerator:
    def __init__(self, portal: Portal, scale: float, seed: int) -> None:
        self.portal = portal
        self.store = portal.store
        self.clock = portal.clock
        self.scale = scale
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = int(self.clock.now())
        self.start = self.now - DAYS * DAY

    # -- set-up ------------------------------------------------------------------------------
    def run(self) -> CompanyModel:
        load_empty(self.portal.store, admin_since=self.start - 400 * DAY)
        store = self.store
        store.db.execute("DELETE FROM statuses WHERE ENTITY_ID IN ('STATUS', 'DEAL_STAGE')")
        add_stages(self.portal.store, "STATUS", DEMO_LEAD_STAGES, system=True)
        add_stages(self.portal.store, "DEAL_STAGE", DEMO_RETAIL_STAGES, system=True)
        add_stages(self.portal.store, "DEAL_STAGE_1", DEMO_WHOLESALE_STAGES, system=False)
        for i, (code, name) in enumerate(DEMO_SOURCES, start=1):
            store.add_status(
                {"ENTITY_ID": "SOURCE", "STATUS_ID": code, "NAME": name, "SORT": 200 + i * 10}
            )
        store.db.execute("UPDATE categories SET name = 'Розница' WHERE id = 0")
        store.add_category(1, "Опт", 200, is_default=False)
        for name, kind, title, entity in (
            ("UF_CRM_CAR_BRAND", "string", "Марка автомобиля", "lead"),
            ("UF_CRM_BRANCH", "string", "Филиал", "lead"),
            ("UF_CRM_AVITO_CHAT", "boolean", "Чат Авито", "lead"),
            ("UF_CRM_CAR_BRAND", "string", "Марка автомобиля", "deal"),
            ("UF_CRM_BRANCH", "string", "Филиал", "deal"),
            ("UF_CRM_DELIVERY", "boolean", "Доставка", "deal"),
        ):
            store.add_userfield(entity, name, kind, title)
        model = hire_team(self.store, self.rng, self.seed, self.scale, self.start, self.now)
        self.model = model
        self.records = DemoRecords(self.portal, model, self.rng, self.now, self.seed)
        self._leads()
        self._deals_without_leads()
        self._anomalies()
        self._renumber()
        return model

    # -- leads and their deals ---------------------------------------------------------------
    def _arrival_times(self):
        """Lead arrival instants: ~600 × scale a day, fewer at weekends and at night."""
        rng = self.rng
        per_day = LEADS_PER_DAY * self.scale
        hour_weights = [
            1,
            0.6,
            0.4,
            0.3,
            0.3,
            0.5,
            1,
            3,
            6,
            9,
            10,
            10,
            9,
            9,
            10,
            10,
            9,
            8,
            7,
            6,
            5,
            4,
            3,
            2,
        ]
        cum = list(itertools.accumulate(hour_weights))
        for day in range(DAYS):
            day_start = self.start + day * DAY
            weekday = self.clock.to_local(day_start).weekday()
            expected = per_day * (0.7 if weekday >= 5 else 1.1) * (0.85 + 0.3 * day / DAYS)
            count = max(0, int(rng.gauss(expected, math.sqrt(expected) + 1)))
            local_midnight = self._local_midnight(day_start)
            times = []
            for _ in range(count):
                hour = bisect.bisect_left(cum, rng.random() * cum[-1])
                ts = local_midnight + hour * 3600 + rng.randrange(3600)
                if ts < self.now:
                    times.append(ts)
            times.sort()
            yield from times

    def _local_midnight(self, ts: int) -> int:
        local = self.clock.to_local(ts)
        return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())

    def _leads(self) -> None:
        rng, model = self.rng, self.model
        contacts: list[int] = []
        lead_id = 0
        for ts in self._arrival_times():
            lead_id += 1
            if rng.random() < 0.004:  # deleted since: the ID stays unused
                continue
            repeat = bool(contacts) and rng.random() < 0.15
            if repeat:
                contact = rng.choice(contacts)
            else:
                contact = model.next_contact
                model.next_contact += 1
                contacts.append(contact)
            self.records.lead(lead_id, ts, contact, repeat)

    def _deals_without_leads(self) -> None:
        """Deals with no lead (~8% of deals): repeat customers who call their manager directly,
        and orders the Avito integration creates as deals, with the ad ID in their own
        UTM_SOURCE."""
        rng, model = self.rng, self.model
        count = int(self.records.next_deal_id * 0.09)
        for _ in range(count):
            created = self.start + rng.randrange(DAYS * DAY)
            robot = rng.random() < 0.4
            wholesale = not robot and rng.random() < 0.3
            manager = model.pick_manager(created, wholesale)
            if robot:
                ad, group = model.pick_ad()
                source, utm = "UC_AVITO", (ad, "avito", group, None, None)
            else:
                group, source, utm = rng.choice(AD_GROUPS), "PARTNER", (None,) * 5
            self.records.deal(
                created,
                None,
                rng.randrange(1, model.next_contact),
                manager.user_id,
                source,
                utm,
                group,
                rng.choice(CAR_BRANDS),
                wholesale,
                repeat=not robot,
            )
        for i in range(max(2, int(5 * self.scale))):  # recurring-deal templates
            created = self.start + rng.randrange(DAYS * DAY)
            self.records.deal(
                created,
                None,
                1 + i,
                model.managers[-1].user_id,
                "PARTNER",
                (None,) * 5,
                "железо",
                "Lada",
                True,
                recurring=True,
            )

    # -- anomalies ---------------------------------------------------------------------------
    def _anomalies(self) -> None:
        rng = self.rng
        self.records.flush()
        db = self.store.db
        lead_ids = [r[0] for r in db.execute('SELECT "ID" FROM leads ORDER BY "ID"')]
        if not lead_ids:
            return
        sample = rng.sample(lead_ids, min(len(lead_ids), max(12, len(lead_ids) // 400)))
        third = max(1, len(sample) // 3)
        db.executemany(
            "UPDATE leads SET STATUS_ID = '', STATUS_SEMANTIC_ID = '' WHERE \"ID\" = ?",
            [(i,) for i in sample[:third]],
        )
        db.executemany(
            "UPDATE leads SET STATUS_ID = 'UC_OLDSTAGE', STATUS_SEMANTIC_ID = 'P' WHERE \"ID\" = ?",
            [(i,) for i in sample[third : 2 * third]],
        )
        db.executemany(  # Avito leads whose ad ID got lost on the way
            "UPDATE leads SET UTM_SOURCE = NULL WHERE \"ID\" = ? AND SOURCE_ID = 'UC_AVITO'",
            [(i,) for i in sample[2 * third :]],
        )
        # The integrator's test day: every lead of one day carries junk tags.
        test_day = self._local_midnight(self.now - 20 * DAY)
        junk = ("test", "{ad_id}", "utm_source", "тест", "123")
        for (lead_id,) in db.execute(
            'SELECT "ID" FROM leads WHERE DATE_CREATE >= ? AND DATE_CREATE < ?',
            (test_day, test_day + DAY),
        ).fetchall():
            db.execute(
                "UPDATE leads SET UTM_SOURCE = ?, UTM_MEDIUM = 'test', UTM_CAMPAIGN = ?"
                ' WHERE "ID" = ?',
                (rng.choice(junk), rng.choice(("test", "{campaign}", "проверка")), lead_id),
            )
        huge = ("Заказ \"бампер\" 🚗🔧 — клиент написал: «срочно!» '\\n' " * 2000)[:100_000]
        db.execute(
            'UPDATE leads SET TITLE = ? WHERE "ID" = ?', (huge, lead_ids[len(lead_ids) // 2])
        )

    def _renumber(self) -> None:
        """Give deals, stage-history rows, activities and product rows IDs in creation order, as
        a portal's auto-increment does (the generator makes them lead by lead, not in time
        order); what hangs on a deal follows its new ID."""
        db = self.store.db
        db.execute(
            'CREATE TEMP TABLE deal_map AS SELECT "ID" AS old_id,'
            ' ROW_NUMBER() OVER (ORDER BY DATE_CREATE, "ID") AS new_id FROM deals'
        )
        db.execute("CREATE UNIQUE INDEX temp.ix_deal_map ON deal_map (old_id)")
        db.execute('UPDATE deals SET "ID" = -(SELECT new_id FROM deal_map WHERE old_id = "ID")')
        db.execute('UPDATE deals SET "ID" = -"ID"')
        for table, owned in (
            ("deal_history", "1"),
            ("activities", "OWNER_TYPE_ID = 2"),
            ("product_rows", "OWNER_TYPE = 'D'"),
        ):
            db.execute(
                f"UPDATE {table} SET OWNER_ID ="
                f" (SELECT new_id FROM deal_map WHERE old_id = OWNER_ID) WHERE {owned}"
            )
        db.execute("DROP TABLE temp.deal_map")
        for table, cols, order in (
            (
                "lead_history",
                "TYPE_ID, OWNER_ID, CREATED_TIME, STATUS_ID, STATUS_SEMANTIC_ID",
                "CREATED_TIME",
            ),
            (
                "deal_history",
                "TYPE_ID, OWNER_ID, CREATED_TIME, CATEGORY_ID, STAGE_ID, STAGE_SEMANTIC_ID",
                "CREATED_TIME",
            ),
            ("activities", ", ".join(ACTIVITY_COLUMNS), "CREATED"),
            ("product_rows", ", ".join(PRODUCT_COLUMNS), "OWNER_ID, SORT"),
        ):
            db.execute(
                f"CREATE TEMP TABLE staging AS SELECT {cols} FROM {table}"
                f' ORDER BY {order}, "ID"'
            )
            db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
            db.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM staging ORDER BY rowid")
            db.execute("DROP TABLE temp.staging")
