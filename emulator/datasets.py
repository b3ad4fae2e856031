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

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field

import orjson
from faker import Faker

from .dictionaries import DEAL_TYPES, DEFAULT_DEAL_STAGES, DEFAULT_LEAD_STAGES, DEFAULT_SOURCES
from .portal import Portal

DAY = 86_400
DAYS = 120
LEADS_PER_DAY = 600
ADS = 150_000
TEAM = 30

AD_GROUPS = ("бампера", "железо", "оптика", "решетки", "аксессуары")
AD_GROUP_PRICE = {  # median retail amount, roubles
    "бампера": 14_000,
    "железо": 22_000,
    "оптика": 18_000,
    "решетки": 7_000,
    "аксессуары": 2_500,
}
CAR_BRANDS = (
    "Toyota",
    "Kia",
    "Hyundai",
    "Lada",
    "Volkswagen",
    "Skoda",
    "Renault",
    "Nissan",
    "Mitsubishi",
    "Ford",
    "Chevrolet",
    "Mazda",
    "Haval",
    "Geely",
    "Chery",
)
BRANCHES = (  # department ID, name
    (2, "Москва"),
    (3, "Санкт-Петербург"),
    (4, "Екатеринбург"),
)
WHOLESALE_DEPT = 5

# What the demo portal deliberately contains for data-quality checks to find.
ANOMALIES = {
    "empty_status": "leads whose STATUS_ID is empty (a broken import)",
    "unknown_status": "leads in a stage later removed from the dictionary (UC_OLDSTAGE)",
    "junk_utm_test_day": "one day on which an integrator's test tagged every lead with junk UTMs",
    "missing_utm": "Avito leads that arrived without the ad ID in UTM_SOURCE",
    "huge_title": "a lead whose title is 100 KB long, with emoji and quotes",
    "unparsable_amount": "a lead and a deal whose OPPORTUNITY is not a number",
    "deal_without_lead": "deals created directly (repeat customers) or by the Avito integration"
    " (the ad ID in their own UTM_SOURCE), so LEAD_ID is empty",
    "recurring_template": "recurring-deal templates (IS_RECURRING = Y), which are not deals",
}

# -- dictionaries ---------------------------------------------------------------------------

DEMO_LEAD_STAGES = (
    ("NEW", "Не обработан", 10, None),
    ("UC_QUALIFY", "Квалификация", 20, None),
    ("UC_HOT", "Горячий", 30, None),
    ("UC_WARM", "Тёплый", 40, None),
    ("UC_COLD", "Холодный", 50, None),
    ("CONVERTED", "Качественный лид", 60, "S"),
    ("JUNK", "Некачественный лид", 70, "F"),
    ("UC_DUPLICATE", "Дубль", 80, "F"),
)
DEMO_RETAIL_STAGES = (
    ("NEW", "Новая", 10, None),
    ("PREPARATION", "Подбор запчасти", 20, None),
    ("PREPAYMENT_INVOICE", "Счёт выставлен", 30, None),
    ("EXECUTING", "Доставка", 40, None),
    ("FINAL_INVOICE", "Выдача и оплата", 50, None),
    ("WON", "Продано", 60, "S"),
    ("LOSE", "Дорого", 70, "F"),
    ("APOLOGY", "Нет в наличии", 80, "F"),
    ("UC_NOANSWER", "Не дозвонились", 90, "F"),
    ("UC_ELSEWHERE", "Купил в другом месте", 100, "F"),
)
DEMO_WHOLESALE_STAGES = (
    ("C1:NEW", "Новая заявка", 10, None),
    ("C1:PREPARATION", "Согласование прайса", 20, None),
    ("C1:EXECUTING", "Отгрузка", 30, None),
    ("C1:WON", "Отгружено", 40, "S"),
    ("C1:LOSE", "Отказ по цене", 50, "F"),
    ("C1:APOLOGY", "Нет в наличии", 60, "F"),
)
DEMO_SOURCES = (("UC_AVITO", "Авито"), ("UC_WHATSAPP", "WhatsApp"), ("UC_TELEGRAM", "Telegram"))

LEAD_COLUMNS = (
    "ID",
    "TITLE",
    "NAME",
    "LAST_NAME",
    "SOURCE_ID",
    "SOURCE_DESCRIPTION",
    "STATUS_ID",
    "STATUS_SEMANTIC_ID",
    "CURRENCY_ID",
    "OPPORTUNITY",
    "IS_MANUAL_OPPORTUNITY",
    "OPENED",
    "HAS_PHONE",
    "HAS_EMAIL",
    "HAS_IMOL",
    "ASSIGNED_BY_ID",
    "CREATED_BY_ID",
    "MODIFY_BY_ID",
    "MOVED_BY_ID",
    "DATE_CREATE",
    "DATE_MODIFY",
    "MOVED_TIME",
    "CONTACT_ID",
    "IS_RETURN_CUSTOMER",
    "DATE_CLOSED",
    "UTM_SOURCE",
    "UTM_MEDIUM",
    "UTM_CAMPAIGN",
    "UTM_CONTENT",
    "UTM_TERM",
    "PHONE",
    "LAST_ACTIVITY_TIME",
    "LAST_ACTIVITY_BY",
    "UF",
)
DEAL_COLUMNS = (
    "ID",
    "TITLE",
    "TYPE_ID",
    "CATEGORY_ID",
    "STAGE_ID",
    "STAGE_SEMANTIC_ID",
    "IS_NEW",
    "IS_RECURRING",
    "IS_RETURN_CUSTOMER",
    "IS_REPEATED_APPROACH",
    "CURRENCY_ID",
    "OPPORTUNITY",
    "IS_MANUAL_OPPORTUNITY",
    "TAX_VALUE",
    "CONTACT_ID",
    "BEGINDATE",
    "CLOSEDATE",
    "OPENED",
    "CLOSED",
    "ASSIGNED_BY_ID",
    "CREATED_BY_ID",
    "MODIFY_BY_ID",
    "MOVED_BY_ID",
    "DATE_CREATE",
    "DATE_MODIFY",
    "MOVED_TIME",
    "SOURCE_ID",
    "LEAD_ID",
    "UTM_SOURCE",
    "UTM_MEDIUM",
    "UTM_CAMPAIGN",
    "UTM_CONTENT",
    "UTM_TERM",
    "LAST_ACTIVITY_TIME",
    "LAST_ACTIVITY_BY",
    "UF",
)


def load_dataset(portal: Portal, dataset: str, scale: float = 1.0, seed: int = 42) -> dict:
    """Replace the portal's data with a dataset; returns row counts."""
    if dataset not in ("empty", "demo"):
        raise ValueError("dataset must be 'empty' or 'demo'")
    if not 0 < scale <= 100:
        raise ValueError("scale must be within (0, 100]")
    store = portal.store
    store.create_schema()
    store.begin()
    try:
        if dataset == "empty":
            _load_empty(portal)
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


def _add_stages(portal: Portal, entity_id: str, stages, system: bool) -> None:
    for status_id, name, sort, semantics in stages:
        portal.store.add_status(
            {
                "ENTITY_ID": entity_id,
                "STATUS_ID": status_id,
                "NAME": name,
                "SORT": sort,
                "SEMANTICS": semantics,
                "SYSTEM": "Y" if system and "UC_" not in status_id else "N",
            }
        )


def _load_empty(portal: Portal, admin_since: float | None = None) -> None:
    store = portal.store
    store.add_department({"ID": 1, "NAME": "Компания", "SORT": 500})
    store.add_user(
        {
            "ID": 1,
            "NAME": "Администратор",
            "LAST_NAME": "Портала",
            "EMAIL": "admin@example.ru",
            "ACTIVE": True,
            "UF_DEPARTMENT": [1],
            "WORK_POSITION": "Администратор",
            "DATE_REGISTER": int(admin_since or portal.clock.now()),
        }
    )
    _add_stages(portal, "STATUS", DEFAULT_LEAD_STAGES, system=True)
    _add_stages(portal, "DEAL_STAGE", DEFAULT_DEAL_STAGES, system=True)
    for i, (code, name) in enumerate(DEFAULT_SOURCES, start=1):
        store.add_status(
            {"ENTITY_ID": "SOURCE", "STATUS_ID": code, "NAME": name, "SORT": i * 10, "SYSTEM": "Y"}
        )
    for i, (code, name) in enumerate(DEAL_TYPES, start=1):
        store.add_status(
            {
                "ENTITY_ID": "DEAL_TYPE",
                "STATUS_ID": code,
                "NAME": name,
                "SORT": i * 10,
                "SYSTEM": "Y",
            }
        )
    store.add_category(0, "Общая", 100, is_default=True)


# -- the company model (shared by the generator and live activity) ---------------------------


@dataclass
class Manager:
    user_id: int
    branch: str
    wholesale: bool
    weight: float
    active_until: float | None = None  # fired: no new work after this instant
    leave: tuple[float, float] | None = None  # on leave: no new work inside this window


@dataclass
class CompanyModel:
    """What activity needs to look like the company: who works, which ads exist, and prices."""

    rng: random.Random
    managers: list[Manager]
    lead_stages: tuple[str, ...]
    ad_ids: list[str] = field(default_factory=list)
    ad_cum: list[float] = field(default_factory=list)
    first_names: list[str] = field(default_factory=list)
    last_names: list[str] = field(default_factory=list)
    next_contact: int = 1

    @classmethod
    def from_store(cls, portal: Portal, seed: int) -> "CompanyModel":
        users = [r[0] for r in portal.store.db.execute('SELECT "ID" FROM users WHERE ACTIVE = 1')]
        stages = [
            r[0]
            for r in portal.store.db.execute(
                "SELECT STATUS_ID FROM statuses WHERE ENTITY_ID = 'STATUS' AND SEMANTICS IS NULL"
                " ORDER BY SORT"
            )
        ]
        model = cls(
            rng=random.Random(seed),
            managers=[Manager(u, "Компания", False, 1.0) for u in users],
            lead_stages=tuple(stages),
            first_names=["Иван", "Анна", "Сергей", "Ольга"],
            last_names=["Иванов", "Петрова", "Смирнов", "Кузнецова"],
        )
        model.build_ads(1_000)
        return model

    def build_ads(self, count: int) -> None:
        # Zipf-like popularity: a few ads bring most leads, a long tail brings one or two each.
        self.ad_ids = [str(2_000_000_000 + i * 7_919) for i in range(count)]
        weights = (1.0 / (rank + 10) ** 1.05 for rank in range(count))
        self.ad_cum = list(itertools.accumulate(weights))

    def pick_ad(self) -> tuple[str, str]:
        i = bisect.bisect_left(self.ad_cum, self.rng.random() * self.ad_cum[-1])
        i = min(i, len(self.ad_ids) - 1)
        return self.ad_ids[i], AD_GROUPS[(i * 2_654_435_761) % len(AD_GROUPS)]

    def pick_manager(self, ts: float, wholesale: bool = False) -> Manager:
        for _ in range(20):
            m = self.rng.choice(self.managers)
            if m.wholesale != wholesale and len(self.managers) > 1 and self.rng.random() < 0.9:
                continue
            if m.active_until is not None and ts > m.active_until:
                continue
            if m.leave is not None and m.leave[0] <= ts <= m.leave[1]:
                continue
            return m
        return self.managers[0]

    def amount(self, group: str, wholesale: bool) -> float:
        median = AD_GROUP_PRICE.get(group, 9_000) * (12 if wholesale else 1)
        return round(median * math.exp(self.rng.gauss(0, 0.55)), -1)

    def person(self) -> tuple[str, str]:
        return self.rng.choice(self.first_names), self.rng.choice(self.last_names)

    def phone(self) -> str:
        r = self.rng.randrange
        return f"+7 9{r(10, 99)} {r(100, 999)}-{r(10, 99)}-{r(10, 99)}"

    def new_lead_fields(self, ts: float) -> tuple[dict, Manager]:
        """Fields of a freshly arrived lead (for live activity, written through the API path)."""
        channel = self.rng.random()
        name, last = self.person()
        manager = self.pick_manager(ts)
        fields = {
            "NAME": name,
            "LAST_NAME": last,
            "ASSIGNED_BY_ID": manager.user_id,
            "PHONE": [{"VALUE": self.phone(), "VALUE_TYPE": "MOBILE"}],
        }
        if channel < 0.62:
            ad, group = self.pick_ad()
            fields.update(
                TITLE=f"Авито: {group}",
                SOURCE_ID="UC_AVITO",
                UTM_SOURCE=ad,
                UTM_MEDIUM="avito",
                UTM_CAMPAIGN=group,
            )
        elif channel < 0.8:
            fields.update(TITLE="Входящий звонок", SOURCE_ID="CALL")
        elif channel < 0.9:
            fields.update(
                TITLE="Заявка с сайта",
                SOURCE_ID="WEB",
                UTM_SOURCE="yandex",
                UTM_MEDIUM="cpc",
                UTM_CAMPAIGN="zapchasti_poisk",
            )
        else:
            fields.update(TITLE="Чат WhatsApp", SOURCE_ID="UC_WHATSAPP")
        return fields, manager


# -- the demo generator -----------------------------------------------------------------------


class _Funnel:
    """A deal funnel's stages, and the path a deal's fate takes through them."""

    def __init__(self, stages) -> None:
        self.progress = [st[0] for st in stages if st[3] is None]
        self.won = next(st[0] for st in stages if st[3] == "S")
        self.losses = [st[0] for st in stages if st[3] == "F"]

    def plan(self, fate: float, rng: random.Random) -> list[str]:
        if fate < 0.05:
            return [self.won]  # won straight away, skipping every intermediate stage
        if fate < 0.55:
            return [*self.progress[1:], self.won]
        stop = rng.randrange(1, len(self.progress))
        if fate < 0.9:
            return [*self.progress[1:stop], rng.choice(self.losses)]
        return self.progress[1:stop]

    def semantic(self, stage: str) -> str:
        return "S" if stage == self.won else ("F" if stage in self.losses else "P")


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
        self.lead_rows: list[tuple] = []
        self.deal_rows: list[tuple] = []
        self.lead_hist: list[tuple] = []
        self.deal_hist: list[tuple] = []
        self.next_deal_id = 1

    # -- set-up ------------------------------------------------------------------------------
    def run(self) -> CompanyModel:
        _load_empty(self.portal, admin_since=self.start - 400 * DAY)
        store = self.store
        store.db.execute("DELETE FROM statuses WHERE ENTITY_ID IN ('STATUS', 'DEAL_STAGE')")
        _add_stages(self.portal, "STATUS", DEMO_LEAD_STAGES, system=True)
        _add_stages(self.portal, "DEAL_STAGE", DEMO_RETAIL_STAGES, system=True)
        _add_stages(self.portal, "DEAL_STAGE_1", DEMO_WHOLESALE_STAGES, system=False)
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
        model = self._team()
        self.model = model
        self._leads()
        self._deals_without_leads()
        self._anomalies()
        self._renumber()
        return model

    def _team(self) -> CompanyModel:
        fake = Faker("ru_RU")
        fake.seed_instance(self.seed)
        first = [fake.first_name() for _ in range(300)]
        last = [fake.last_name() for _ in range(300)]
        store = self.store
        for dept_id, name in BRANCHES:
            store.add_department(
                {"ID": dept_id, "NAME": f"Филиал {name}", "SORT": 100 + dept_id, "PARENT": 1}
            )
        store.add_department(
            {"ID": WHOLESALE_DEPT, "NAME": "Оптовый отдел", "SORT": 200, "PARENT": 1}
        )
        team = max(5, round(TEAM * math.sqrt(self.scale)))
        managers: list[Manager] = []
        for i in range(team):
            wholesale = i % 6 == 5
            dept, branch = (WHOLESALE_DEPT, "Опт") if wholesale else BRANCHES[i % len(BRANCHES)]
            registered = self.start - self.rng.randrange(30, 900) * DAY
            fired = i % 10 == 6
            male = self.rng.random() < 0.6
            user_id = store.add_user(
                {
                    "NAME": fake.first_name_male() if male else fake.first_name_female(),
                    "LAST_NAME": fake.last_name_male() if male else fake.last_name_female(),
                    "EMAIL": f"manager{i + 2}@autoparts.example.ru",
                    "ACTIVE": not fired,
                    "UF_DEPARTMENT": [dept],
                    "WORK_POSITION": "Старший менеджер по опту" if wholesale else "Менеджер",
                    "PERSONAL_GENDER": "M" if male else "F",
                    "DATE_REGISTER": registered,
                    "LAST_LOGIN": self.now - self.rng.randrange(60, 5 * DAY),
                    "TIME_ZONE": "Europe/Moscow",
                }
            )
            manager = Manager(user_id, branch, wholesale, weight=self.rng.uniform(0.5, 1.5))
            if fired:
                manager.active_until = self.start + self.rng.randrange(20, DAYS - 20) * DAY
            elif i == 3:
                leave_start = self.start + 60 * DAY
                manager.leave = (leave_start, leave_start + 14 * DAY)
            managers.append(manager)
        model = CompanyModel(
            rng=self.rng,
            managers=managers,
            lead_stages=tuple(s[0] for s in DEMO_LEAD_STAGES if s[3] is None),
            first_names=first,
            last_names=last,
        )
        model.build_ads(ADS)
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
            self._lead(lead_id, ts, contact, repeat)

    def _lead(self, lead_id: int, created: int, contact: int, repeat: bool) -> None:
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
        phone = orjson.dumps(
            [
                {
                    "ID": str(lead_id),
                    "VALUE_TYPE": "MOBILE",
                    "VALUE": model.phone(),
                    "TYPE_ID": "PHONE",
                }
            ]
        ).decode()
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
            )
        )
        for type_id, ts, st, sem in history:
            self.lead_hist.append((type_id, lead_id, ts, st, sem))
        if stage == "CONVERTED" and rng.random() < 0.88:
            self._deal(
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
            self._flush()

    def _deal(
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
        funnel = _Funnel(DEMO_WHOLESALE_STAGES if wholesale else DEMO_RETAIL_STAGES)
        amount = self.model.amount(group, wholesale)
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
                funnel = _Funnel(DEMO_WHOLESALE_STAGES)
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
            )
        )
        for type_id, ts, st, sem, row_category in history:
            self.deal_hist.append((type_id, deal_id, ts, row_category, st, sem))

    def _deals_without_leads(self) -> None:
        """Deals with no lead (~8% of deals): repeat customers who call their manager directly,
        and orders the Avito integration creates as deals, with the ad ID in their own
        UTM_SOURCE."""
        rng, model = self.rng, self.model
        count = int(self.next_deal_id * 0.09)
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
            self._deal(
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
            self._deal(
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
        self._flush()
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
        db.execute(
            "UPDATE leads SET OPPORTUNITY = 'abc' WHERE \"ID\" = ?", (lead_ids[len(lead_ids) // 3],)
        )
        deal = db.execute(
            'SELECT "ID" FROM deals WHERE STAGE_SEMANTIC_ID = \'S\' ORDER BY "ID" LIMIT 1'
        ).fetchone()
        if deal:
            db.execute("UPDATE deals SET OPPORTUNITY = '12 500 руб.' WHERE \"ID\" = ?", deal)

    def _renumber(self) -> None:
        """Give deals and stage-history rows IDs in creation order, as a portal's
        auto-increment does (the generator makes them lead by lead, not in time order)."""
        db = self.store.db
        db.execute(
            'CREATE TEMP TABLE deal_map AS SELECT "ID" AS old_id,'
            ' ROW_NUMBER() OVER (ORDER BY DATE_CREATE, "ID") AS new_id FROM deals'
        )
        db.execute("CREATE UNIQUE INDEX temp.ix_deal_map ON deal_map (old_id)")
        db.execute('UPDATE deals SET "ID" = -(SELECT new_id FROM deal_map WHERE old_id = "ID")')
        db.execute('UPDATE deals SET "ID" = -"ID"')
        db.execute(
            "UPDATE deal_history SET OWNER_ID ="
            " (SELECT new_id FROM deal_map WHERE old_id = OWNER_ID)"
        )
        db.execute("DROP TABLE temp.deal_map")
        for table, cols in (
            ("lead_history", "TYPE_ID, OWNER_ID, CREATED_TIME, STATUS_ID, STATUS_SEMANTIC_ID"),
            (
                "deal_history",
                "TYPE_ID, OWNER_ID, CREATED_TIME, CATEGORY_ID, STAGE_ID, STAGE_SEMANTIC_ID",
            ),
        ):
            db.execute(
                f"CREATE TEMP TABLE staging AS SELECT {cols} FROM {table}"
                ' ORDER BY CREATED_TIME, "ID"'
            )
            db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
            db.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM staging ORDER BY rowid")
            db.execute("DROP TABLE temp.staging")

    def _flush(self) -> None:
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
