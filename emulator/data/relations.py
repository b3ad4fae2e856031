"""What hangs on the demo company's leads and deals: the customers (contacts), the calls and
chats managers answer them with (activities), and the parts each deal sells (product rows).

A random generator of its own (seeded from the demo's seed) draws all of it, so the leads and
deals stay the same row for row whatever is added here. Rows are buffered and written in bulk.
"""

import random

import orjson

from emulator.data.company import DAY

CONTACT_COLUMNS = (
    "ID", "NAME", "LAST_NAME", "TYPE_ID", "SOURCE_ID", "HAS_PHONE", "HAS_EMAIL", "ASSIGNED_BY_ID",
    "CREATED_BY_ID", "MODIFY_BY_ID", "DATE_CREATE", "DATE_MODIFY", "OPENED", "PHONE",
)
ACTIVITY_COLUMNS = (
    "OWNER_ID", "OWNER_TYPE_ID", "TYPE_ID", "PROVIDER_ID", "PROVIDER_TYPE_ID", "SUBJECT",
    "CREATED", "LAST_UPDATED", "START_TIME", "END_TIME", "COMPLETED", "STATUS", "RESPONSIBLE_ID",
    "PRIORITY", "DIRECTION", "AUTHOR_ID", "EDITOR_ID",
)
PRODUCT_COLUMNS = (
    "OWNER_ID", "OWNER_TYPE", "PRODUCT_ID", "PRODUCT_NAME", "PRICE", "QUANTITY",
    "DISCOUNT_TYPE_ID", "DISCOUNT_RATE", "DISCOUNT_SUM", "TAX_INCLUDED", "MEASURE_CODE",
    "MEASURE_NAME", "SORT",
)
# How a lead from each source is first answered: (TYPE_ID, PROVIDER_ID, PROVIDER_TYPE_ID, subject).
# TYPE_ID 2 is a call, 4 an e-mail, 6 a provider's activity (an open-line chat).
_FIRST_TOUCH = {
    "CALL": (2, "VOXIMPLANT_CALL", "CALL", "Входящий звонок"),
    "WEB": (4, "CRM_EMAIL", "EMAIL", "Ответ на заявку с сайта"),
    "RECOMMENDATION": (2, "VOXIMPLANT_CALL", "CALL", "Исходящий звонок"),
}
_CHAT = (6, "IMOPENLINES_SESSION", "OPENLINE", "Чат")
# What each ad group's parts are called, for product rows.
_PARTS = {
    "бампера": ("Бампер передний", "Бампер задний", "Кронштейн бампера", "Усилитель бампера"),
    "железо": ("Капот", "Крыло переднее", "Дверь передняя", "Крышка багажника"),
    "оптика": ("Фара левая", "Фара правая", "Фонарь задний", "Противотуманная фара"),
    "решетки": ("Решётка радиатора", "Решётка бампера", "Молдинг решётки"),
    "аксессуары": ("Коврики в салон", "Брызговики", "Дефлекторы окон", "Щётки стеклоочистителя"),
}


class DemoRelations:
    def __init__(self, seed: int, now: int) -> None:
        self.rng = random.Random(seed * 7919 + 1)
        self.now = now
        self.contacts: list[tuple] = []
        self.activities: list[tuple] = []
        self.products: list[tuple] = []

    def contact(self, contact_id: int, created: int, name: str, last: str, phone: str,
                source: str, manager: int) -> None:
        """A new customer, created with their first lead (as the portal's lead form does)."""
        phones = orjson.dumps(
            [{"ID": str(contact_id), "VALUE_TYPE": "MOBILE", "VALUE": phone, "TYPE_ID": "PHONE"}]
        ).decode()
        self.contacts.append((contact_id, name, last, "CLIENT", source, "Y", "N", manager,
                              manager, manager, created, created, "Y", phones))

    def lead_touches(self, lead_id: int, created: int, source: str, managers: list[int]) -> None:
        """The manager's first answer (most within half an hour, some after hours) and, for
        some leads, a follow-up call; `managers` are who held the lead, first to last."""
        rng = self.rng
        if rng.random() < 0.08:
            return  # never answered
        type_id, provider, provider_type, subject = _FIRST_TOUCH.get(source, _CHAT)
        first = created + int(rng.expovariate(1 / (25 * 60))) + 30
        self._activity(lead_id, 1, type_id, provider, provider_type, subject, first,
                       rng.choice(managers[:2]), direction=2 if type_id == 4 else 1)
        if rng.random() < 0.4:
            later = first + rng.randrange(3600, 2 * DAY)
            self._activity(lead_id, 1, 2, "VOXIMPLANT_CALL", "CALL", "Исходящий звонок", later,
                           managers[-1], direction=2)

    def deal_touch(self, deal_id: int, created: int, manager: int) -> None:
        if self.rng.random() < 0.5:
            at = created + self.rng.randrange(300, DAY)
            self._activity(deal_id, 2, 2, "VOXIMPLANT_CALL", "CALL", "Согласование заказа", at,
                           manager, direction=2)

    def _activity(self, owner_id, owner_type, type_id, provider, provider_type, subject, at,
                  responsible, direction) -> None:
        if at >= self.now:
            return
        end = min(self.now, at + self.rng.randrange(60, 900))
        self.activities.append((owner_id, owner_type, type_id, provider, provider_type, subject,
                                at, end, at, end, "Y", 2, responsible, 2, direction, responsible,
                                responsible))

    def deal_products(self, deal_id: int, group: str, brand: str, amount: float,
                      first_amount: float) -> None:
        """Rows that add up to the deal's amount: the part first ordered and, when the deal grew
        (cross-sell), the parts added to it."""
        rng = self.rng
        parts = _PARTS.get(group, _PARTS["аксессуары"])
        chosen = rng.sample(parts, min(len(parts), 1 + (amount > first_amount)
                                       + (amount > first_amount * 1.8)))
        prices = [first_amount]
        if len(chosen) > 1:
            rest = round(amount - first_amount, 2)
            split = round(rest * rng.uniform(0.3, 0.7), -1) if len(chosen) > 2 else rest
            prices += [split, round(rest - split, 2)][: len(chosen) - 1]
        for i, (part, price) in enumerate(zip(chosen, prices, strict=True), start=1):
            product_id = 1000 + parts.index(part) + 100 * list(_PARTS).index(
                group if group in _PARTS else "аксессуары")
            self.products.append((deal_id, "D", product_id, f"{part} {brand}", price, 1.0, 2, 0.0,
                                  0.0, "Y", 796, "шт", 10 * i))

    def flush(self, store) -> None:
        if self.contacts:
            store.insert_many("contact", CONTACT_COLUMNS, self.contacts)
        if self.activities:
            store.insert_many("activity", ACTIVITY_COLUMNS, self.activities)
        if self.products:
            store.insert_many("product_row", PRODUCT_COLUMNS, self.products)
        self.contacts, self.activities, self.products = [], [], []
