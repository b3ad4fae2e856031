"""The demo company: an auto-parts seller's branches, team, ads, prices and stage dictionaries,
and the model of it that the demo generator and live activity share (who works when, which ads
exist, what things cost)."""

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field

from faker import Faker

from emulator.portal.portal import Portal
from emulator.store.store import Store

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


class Funnel:
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


def hire_team(
    store: Store, rng: random.Random, seed: int, scale: float, start: int, now: int
) -> CompanyModel:
    """The demo team in the portal (branches, departments, managers with their leave and
    dismissals) and the company model around it; `scale` grows the team by its square root."""
    fake = Faker("ru_RU")
    fake.seed_instance(seed)
    first = [fake.first_name() for _ in range(300)]
    last = [fake.last_name() for _ in range(300)]
    for dept_id, name in BRANCHES:
        store.add_department(
            {"ID": dept_id, "NAME": f"Филиал {name}", "SORT": 100 + dept_id, "PARENT": 1}
        )
    store.add_department(
        {"ID": WHOLESALE_DEPT, "NAME": "Оптовый отдел", "SORT": 200, "PARENT": 1}
    )
    team = max(5, round(TEAM * math.sqrt(scale)))
    managers: list[Manager] = []
    for i in range(team):
        wholesale = i % 6 == 5
        dept, branch = (WHOLESALE_DEPT, "Опт") if wholesale else BRANCHES[i % len(BRANCHES)]
        registered = start - rng.randrange(30, 900) * DAY
        fired = i % 10 == 6
        male = rng.random() < 0.6
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
                "LAST_LOGIN": now - rng.randrange(60, 5 * DAY),
                "TIME_ZONE": "Europe/Moscow",
            }
        )
        manager = Manager(user_id, branch, wholesale, weight=rng.uniform(0.5, 1.5))
        if fired:
            manager.active_until = start + rng.randrange(20, DAYS - 20) * DAY
        elif i == 3:
            leave_start = start + 60 * DAY
            manager.leave = (leave_start, leave_start + 14 * DAY)
        managers.append(manager)
    model = CompanyModel(
        rng=rng,
        managers=managers,
        lead_stages=tuple(s[0] for s in DEMO_LEAD_STAGES if s[3] is None),
        first_names=first,
        last_names=last,
    )
    model.build_ads(ADS)
    return model
