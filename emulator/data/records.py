"""The demo generator's records: one lead's life (stage path, hand-overs, its deal) and one deal's
(funnel, amount growth, funnel moves), buffered and written to the store in bulk."""

import random

import orjson

from emulator.data.company import AD_GROUPS, CAR_BRANDS, DAY, DEMO_RETAIL_STAGES, DEMO_WHOLESALE_STAGES, CompanyModel, Funnel
from emulator.data.relations import DemoRelations
from emulator.portal.portal import Portal

LEAD_COLUMNS = (  # the column order of the rows below
    "ID", "TITLE", "NAME", "LAST_NAME", "SOURCE_ID", "SOURCE_DESCRIPTION", "STATUS_ID",
    "STATUS_SEMANTIC_ID", "CURRENCY_ID", "OPPORTUNITY", "IS_MANUAL_OPPORTUNITY", "OPENED",
    "HAS_PHONE", "HAS_EMAIL", "HAS_IMOL", "ASSIGNED_BY_ID", "CREATED_BY_ID", "MODIFY_BY_ID",
    "MOVED_BY_ID", "DATE_CREATE", "DATE_MODIFY", "MOVED_TIME", "CONTACT_ID", "IS_RETURN_CUSTOMER",
    "DATE_CLOSED", "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM", "PHONE",
    "LAST_ACTIVITY_TIME", "LAST_ACTIVITY_BY", "UF", "CONTACT_IDS",
)
DEAL_COLUMNS = (  # the column order of the rows below
    "ID", "TITLE", "TYPE_ID", "CATEGORY_ID", "STAGE_ID", "STAGE_SEMANTIC_ID", "IS_NEW",
    "IS_RECURRING", "IS_RETURN_CUSTOMER", "IS_REPEATED_APPROACH", "CURRENCY_ID", "OPPORTUNITY",
    "IS_MANUAL_OPPORTUNITY", "TAX_VALUE", "CONTACT_ID", "BEGINDATE", "CLOSEDATE", "OPENED",
    "CLOSED", "ASSIGNED_BY_ID", "CREATED_BY_ID", "MODIFY_BY_ID", "MOVED_BY_ID", "DATE_CREATE",
    "DATE_MODIFY", "MOVED_TIME", "SOURCE_ID", "LEAD_ID", "UTM_SOURCE", "UTM_MEDIUM",
    "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM", "LAST_ACTIVITY_TIME", "LAST_ACTIVITY_BY", "UF",
    "CONTACT_IDS",
)


class DemoRecords:
    """Leads and deals as the company makes them, with their stage history."""

    def __init__(
        self, portal: Portal, model: CompanyModel, rng: random.Random, now: int, seed: int
    ) -> None:
        self.store = portal.store
        self.clock = portal.clock
        self.model = model
        self.rng = rng
        self.now = now
        self.lead_rows: list[tuple] = []
        self.deal_rows: list[tuple] = []
        self.lead_hist: list[tuple] = []
        self.deal_hist: list[tuple] = []
        self.next_deal_id = 1
        self.relations = DemoRelations(seed, now)

    def lead(self, lead_id: int, created: int, contact: int, repeat: bool) -> None:
        """`repeat`: the contact wrote before, so the portal marks the lead a repeat one
        (IS_RETURN_CUSTOMER, «Повторный лид»), and its deal a repeat deal."""
        rng, model, now = self.rng, self.model, self.now
        wholesale = rng.random() < 0.06
        manager = model.pick_manager(created, wholesale)
        channel = rng.random()
        utm = (None, None, None, None, None)
        group = rng.choice(AD_GROUPS)
        if channel < 0.62:
            ad, group = model.pick_ad()
            source, title = "UC_AVITO", f"Авито: {group}"
            utm = (ad, "avito", group, None, None)
        elif channel < 0.78:
            source, title = "CALL", "Входящий звонок"
        elif channel < 0.88:
            source, title = "WEB", "Заявка с сайта"
            engine = "yandex" if rng.random() < 0.8 else "google"
            utm = (engine, "cpc", f"zapchasti_{group}", None, rng.choice(CAR_BRANDS).lower())
        elif channel < 0.96:
            source, title = rng.choice(
                (("UC_WHATSAPP", "Чат WhatsApp"), ("UC_TELEGRAM", "Чат Telegram"))
            )
        else:
            source, title = "RECOMMENDATION", "По рекомендации"
        name, last = model.person()
        brand = rng.choice(CAR_BRANDS)

        # Stage path: NEW → Квалификация → a temperature → success or failure, as time allows.
        history = [(1, created, "NEW", "P")]
        t = created
        stage, semantic = "NEW", "P"
        assigned = manager.user_id
        holders = [assigned]
        modified = created
        fate = rng.random()
        path = ["UC_QUALIFY", rng.choice(("UC_HOT", "UC_WARM", "UC_COLD"))]
        final = "CONVERTED" if fate < 0.36 else ("JUNK" if fate < 0.80 else None)
        if final == "JUNK" and rng.random() < 0.1:
            final = "UC_DUPLICATE"
        if final is not None and rng.random() < 0.3:
            path = path[:1] if rng.random() < 0.5 else []
        for step in [*path, final] if final else path:
            t += int(rng.expovariate(1 / (6 * 3600))) + 60
            if t >= now:
                break
            stage = step
            semantic = (
                "S" if step == "CONVERTED" else ("F" if step in ("JUNK", "UC_DUPLICATE") else "P")
            )
            history.append((3 if semantic != "P" else 2, t, stage, semantic))
            modified = t
        moved = history[-1][1]
        # Chats are picked up by whoever is free: a third of leads change hands 1–3 times.
        if rng.random() < 0.33:
            for _ in range(rng.randint(1, 3)):
                t_re = created + rng.randrange(60, 2 * DAY)
                if t_re < now:
                    assigned = model.pick_manager(t_re, wholesale).user_id
                    modified = max(modified, t_re)
                    holders.append(assigned)
        amount = model.amount(group, wholesale)
        closed = moved if semantic in ("S", "F") else None
        last_activity = min(now, modified + rng.randrange(0, 3600))
        uf = orjson.dumps(
            {
                "UF_CRM_CAR_BRAND": brand,
                "UF_CRM_BRANCH": manager.branch,
                "UF_CRM_AVITO_CHAT": source == "UC_AVITO" and rng.random() < 0.7,
            }
        ).decode()
        phone_number = model.phone()
        phone = orjson.dumps(
            [{"ID": str(lead_id), "VALUE_TYPE": "MOBILE", "VALUE": phone_number,
              "TYPE_ID": "PHONE"}]
        ).decode()
        if not repeat:
            self.relations.contact(
                contact, created, name, last, phone_number, source, manager.user_id
            )
        self.relations.lead_touches(lead_id, created, source, holders)
        self.lead_rows.append(
            (
                lead_id,
                title,
                name,
                last,
                source,
                None,
                stage,
                semantic,
                "RUB",
                f"{amount:.2f}" if stage != "NEW" else "0.00",
                "N",
                "Y",
                "Y",
                "N",
                "N",
                assigned,
                manager.user_id,
                assigned,
                manager.user_id,
                created,
                modified,
                moved,
                contact,
                "Y" if repeat else "N",
                closed,
                *utm,
                phone,
                last_activity,
                assigned,
                uf,
                f"[{contact}]",
            )
        )
        for type_id, ts, st, sem in history:
            self.lead_hist.append((type_id, lead_id, ts, st, sem))
        if stage == "CONVERTED" and rng.random() < 0.88:
            self.deal(
                moved + rng.randrange(60, 1800),
                lead_id,
                contact,
                assigned,
                source,
                utm,
                group,
                brand,
                wholesale,
                repeat=repeat,
            )
        if len(self.lead_rows) >= 20_000:
            self.flush()

    def deal(
        self,
        created: int,
        lead_id: int | None,
        contact: int,
        manager_id: int,
        source: str,
        utm: tuple,
        group: str,
        brand: str,
        wholesale: bool,
        recurring: bool = False,
        repeat: bool = True,
    ):
        """A deal and its stage history. A few retail deals turn out to be wholesale orders
        and move to the wholesale funnel (stage-history TYPE_ID 5) after their first stage."""
        rng, now = self.rng, self.now
        if created >= now:
            return
        deal_id = self.next_deal_id
        self.next_deal_id += 1
        category = 1 if wholesale else 0
        funnel = Funnel(DEMO_WHOLESALE_STAGES if wholesale else DEMO_RETAIL_STAGES)
        amount = first_amount = self.model.amount(group, wholesale)
        fate = rng.random()
        stuck = fate > 0.93  # sits for weeks in one stage
        history = [(1, created, funnel.progress[0], "P", category)]
        t = created
        stage, semantic = funnel.progress[0], "P"
        plan = funnel.plan(fate, rng)
        if not wholesale and not recurring and rng.random() < 0.03:
            t += int(rng.expovariate(1 / (4 * 3600))) + 300
            if t < now:  # a retail order that is a wholesale one: into the wholesale funnel
                category, wholesale = 1, True
                funnel = Funnel(DEMO_WHOLESALE_STAGES)
                stage = funnel.progress[0]
                history.append((5, t, stage, "P", category))
                plan = funnel.plan(fate, rng)
        mean_stay = (10 * DAY) if stuck else (20 * 3600)
        for step in plan:
            t += int(rng.expovariate(1 / mean_stay)) + 300
            if t >= now:
                break
            stage = step
            semantic = funnel.semantic(step)
            history.append((3 if semantic != "P" else 2, t, stage, semantic, category))
        moved = history[-1][1]
        modified = moved
        # Cross-sell: a quarter of deals grow before closing (a bumper, then its grille).
        if rng.random() < 0.25 and semantic != "F":
            amount = round(amount * rng.uniform(1.3, 2.8), -1)
            modified = min(now, moved + rng.randrange(60, 3600)) if semantic == "P" else moved
        if rng.random() < 0.07 and semantic == "P":  # reassigned to a colleague
            manager_id = self.model.pick_manager(modified, wholesale).user_id
        closed = "Y" if semantic in ("S", "F") else "N"
        begin = self.clock.local_date(created)
        close_date = self.clock.local_date(moved if closed == "Y" else created + 7 * DAY)
        uf = orjson.dumps(
            {
                "UF_CRM_CAR_BRAND": brand,
                "UF_CRM_BRANCH": "Опт" if wholesale else None,
                "UF_CRM_DELIVERY": rng.random() < 0.4,
            }
        ).decode()
        title = f"Заказ: {group}, {brand}" if not recurring else "Ежемесячная поставка"
        self.deal_rows.append(
            (
                deal_id,
                title,
                "GOODS" if not wholesale else "SALE",
                category,
                stage,
                semantic,
                "Y" if stage == funnel.progress[0] else "N",
                "Y" if recurring else "N",
                "Y" if repeat else "N",
                "N",
                "RUB",
                f"{amount:.2f}",
                "N",
                "0.00",
                contact,
                begin,
                close_date,
                "Y",
                closed,
                manager_id,
                manager_id,
                manager_id,
                manager_id,
                created,
                modified,
                moved,
                source,
                lead_id,
                *utm,
                modified,
                manager_id,
                uf,
                f"[{contact}]",
            )
        )
        if not recurring:
            self.relations.deal_products(deal_id, group, brand, amount, first_amount)
            self.relations.deal_touch(deal_id, created, manager_id)
        for type_id, ts, st, sem, row_category in history:
            self.deal_hist.append((type_id, deal_id, ts, row_category, st, sem))

    def flush(self) -> None:
        store = self.store
        if self.lead_rows:
            store.insert_many("lead", LEAD_COLUMNS, self.lead_rows)
        if self.deal_rows:
            store.insert_many("deal", DEAL_COLUMNS, self.deal_rows)
        if self.lead_hist:
            store.insert_many(
                "lead_history",
                ("TYPE_ID", "OWNER_ID", "CREATED_TIME", "STATUS_ID", "STATUS_SEMANTIC_ID"),
                self.lead_hist,
            )
        if self.deal_hist:
            store.insert_many(
                "deal_history",
                (
                    "TYPE_ID",
                    "OWNER_ID",
                    "CREATED_TIME",
                    "CATEGORY_ID",
                    "STAGE_ID",
                    "STAGE_SEMANTIC_ID",
                ),
                self.deal_hist,
            )
        self.lead_rows, self.deal_rows, self.lead_hist, self.deal_hist = [], [], [], []
        self.relations.flush(store)
