"""Live activity: the portal keeps changing while clients read it, as a working sales team does.

Every tick (default 3 s) a new lead arrives, and, by chance, a manager calls a lead no one has
answered yet, a lead moves a stage, a chat is handed to another manager, a deal moves or closes,
a part is added to a deal (cross-sell: its product rows and so its amount grow), a quality lead
becomes a deal, or a lead is deleted. All changes go through the store's write path, so
`DATE_MODIFY`, `MOVED_TIME`, stage history and amounts behave as for API writes.
"""

import asyncio
import contextlib
import logging

from emulator.portal.portal import Portal

log = logging.getLogger("emulator.data.live")


class LiveActivity:
    def __init__(self, portal: Portal, interval: float = 3.0) -> None:
        self.portal = portal
        self.interval = interval
        self.task: asyncio.Task | None = None
        self.ticks = 0
        self.changes = 0

    def start(self, interval: float | None = None) -> None:
        if interval is not None:
            if interval <= 0:
                raise ValueError("interval_seconds must be positive")
            self.interval = interval
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None

    def describe(self) -> dict:
        return {
            "enabled": self.task is not None and not self.task.done(),
            "interval_seconds": self.interval,
            "ticks": self.ticks,
            "changes": self.changes,
        }

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.tick()
            except Exception:  # keep the portal alive; the failure is visible in the log
                log.exception("live activity tick failed")

    def tick(self) -> int:
        """One step of company life; returns how many records changed."""
        portal = self.portal
        store, model = portal.store, portal.model
        rng = model.rng
        now = portal.clock.now()
        user = portal.user_id
        changed = 0
        fields, _ = model.new_lead_fields(now)
        store.add_crm("lead", fields, user)
        changed += 1
        db = store.db

        def random_row(sql: str):
            ids = [r[0] for r in db.execute(sql + ' ORDER BY "ID" DESC LIMIT 200')]
            return rng.choice(ids) if ids else None

        if rng.random() < 0.6:
            lead = random_row(
                'SELECT "ID" FROM leads WHERE NOT EXISTS (SELECT 1 FROM activities a'
                ' WHERE a.OWNER_ID = leads."ID" AND a.OWNER_TYPE_ID = 1)'
            )
            if lead is not None:
                manager = store.get_crm("lead", lead)["ASSIGNED_BY_ID"]
                call = {"OWNER_TYPE_ID": 1, "OWNER_ID": lead, "TYPE_ID": 2,
                        "PROVIDER_ID": "VOXIMPLANT_CALL", "SUBJECT": "Исходящий звонок",
                        "DIRECTION": 2, "COMPLETED": "Y", "RESPONSIBLE_ID": manager}
                store.add_record("activity", call, manager)
                changed += 1
        if rng.random() < 0.7:
            lead = random_row("SELECT \"ID\" FROM leads WHERE STATUS_SEMANTIC_ID = 'P'")
            if lead is not None:
                stages = [*model.lead_stages[1:], "CONVERTED", "JUNK"]
                store.update_crm("lead", lead, {"STATUS_ID": rng.choice(stages)}, user)
                changed += 1
        if rng.random() < 0.4:
            lead = random_row('SELECT "ID" FROM leads')
            if lead is not None:
                manager = model.pick_manager(now)
                store.update_crm("lead", lead, {"ASSIGNED_BY_ID": manager.user_id}, user)
                changed += 1
        if rng.random() < 0.3:
            lead = random_row(
                "SELECT \"ID\" FROM leads WHERE STATUS_ID = 'CONVERTED'"
                ' AND "ID" NOT IN (SELECT LEAD_ID FROM deals WHERE LEAD_ID IS NOT NULL)'
            )
            if lead is not None:
                row = store.get_crm("lead", lead)
                deal = store.add_crm(
                    "deal",
                    {
                        "TITLE": f"Сделка по лиду #{lead}",
                        "ASSIGNED_BY_ID": row["ASSIGNED_BY_ID"],
                        "OPPORTUNITY": row["OPPORTUNITY"],
                        "CONTACT_ID": row["CONTACT_ID"],
                        "SOURCE_ID": row["SOURCE_ID"],
                        **{k: row[k] for k in row if k.startswith("UTM_")},
                    },
                    user,
                    links={"LEAD_ID": lead},  # as crm.item.add links it (crm.deal.* cannot)
                )
                title = f"Заказ по лиду #{lead}"
                store.set_product_rows("D", deal, [{"PRODUCT_NAME": title,
                                                    "PRICE": row["OPPORTUNITY"] or 0}], user)
                changed += 1
        if rng.random() < 0.5:
            deal = random_row("SELECT \"ID\" FROM deals WHERE STAGE_SEMANTIC_ID = 'P'")
            if deal is not None:
                row = store.get_crm("deal", deal)
                dictionary = store.stage_dictionary("deal", row["CATEGORY_ID"])
                stages = [
                    r[0]
                    for r in db.execute(
                        "SELECT STATUS_ID FROM statuses WHERE ENTITY_ID = ? ORDER BY SORT",
                        (dictionary,),
                    )
                ]
                store.update_crm("deal", deal, {"STAGE_ID": rng.choice(stages[1:])}, user)
                changed += 1
        if rng.random() < 0.3:
            deal = random_row("SELECT \"ID\" FROM deals WHERE STAGE_SEMANTIC_ID = 'P'")
            if deal is not None:
                rows = [
                    {"PRODUCT_ID": r[0], "PRODUCT_NAME": r[1], "PRICE": r[2], "QUANTITY": r[3]}
                    for r in db.execute(
                        "SELECT PRODUCT_ID, PRODUCT_NAME, PRICE, QUANTITY FROM product_rows"
                        " WHERE OWNER_TYPE = 'D' AND OWNER_ID = ? ORDER BY SORT, \"ID\"",
                        (deal,),
                    )
                ]
                if not rows:  # a deal whose amount was typed: that amount becomes its first row
                    current = store.get_crm("deal", deal)
                    rows = [{"PRODUCT_NAME": current["TITLE"], "PRICE": current["OPPORTUNITY"]}]
                rows.append({"PRODUCT_NAME": "Монтаж и доставка",
                             "PRICE": rng.randrange(5, 60) * 100})
                store.set_product_rows("D", deal, rows, user)
                changed += 1
        if rng.random() < 0.05:
            lead = random_row('SELECT "ID" FROM leads')
            if lead is not None:
                store.delete_crm("lead", lead)
                changed += 1
        self.ticks += 1
        self.changes += changed
        return changed

    async def aclose(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
