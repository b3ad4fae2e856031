"""The dictionaries a new Bitrix24 portal comes with (ru locale): lead stages, the deal stages of a
funnel, sources and deal types, as `(code, name, sort, semantics)` / `(code, name)` tuples.

A funnel added later (`crm.category.add`) gets the deal stages with the prefix `C<n>:`.
`load_empty` fills a new portal with them, funnel 0 and the admin user.
"""

from emulator.store.store import Store

DEFAULT_LEAD_STAGES = (
    ("NEW", "Не обработан", 10, None),
    ("IN_PROCESS", "В работе", 20, None),
    ("PROCESSED", "Обработан", 30, None),
    ("CONVERTED", "Качественный лид", 40, "S"),
    ("JUNK", "Некачественный лид", 50, "F"),
)
DEFAULT_DEAL_STAGES = (
    ("NEW", "Новая", 10, None),
    ("PREPARATION", "Подготовка документов", 20, None),
    ("PREPAYMENT_INVOICE", "Счёт на предоплату", 30, None),
    ("EXECUTING", "В работе", 40, None),
    ("FINAL_INVOICE", "Финальный счёт", 50, None),
    ("WON", "Сделка успешна", 60, "S"),
    ("LOSE", "Сделка провалена", 70, "F"),
    ("APOLOGY", "Анализ причины провала", 80, "F"),
)
DEFAULT_SOURCES = (
    ("CALL", "Звонок"),
    ("EMAIL", "Электронная почта"),
    ("WEB", "Веб-сайт"),
    ("ADVERTISING", "Реклама"),
    ("PARTNER", "Существующий клиент"),
    ("RECOMMENDATION", "По рекомендации"),
    ("TRADE_SHOW", "Выставка"),
    ("WEBFORM", "CRM-форма"),
    ("CALLBACK", "Обратный звонок"),
    ("STORE", "Интернет-магазин"),
    ("OTHER", "Другое"),
)
DEAL_TYPES = (
    ("SALE", "Продажа"),
    ("COMPLEX", "Комплексная продажа"),
    ("GOODS", "Продажа товара"),
    ("SERVICES", "Продажа услуги"),
    ("SERVICE", "Сервисное обслуживание"),
)


# What a Russian portal's currency dictionary holds: the rouble as base, rates as of the demo.
CURRENCIES = (
    ("RUB", "Российский рубль", "1.0000", 100, "Y", "# ₽"),
    ("USD", "Доллар США", "91.5000", 200, "N", "$#"),
    ("EUR", "Евро", "99.2000", 300, "N", "# €"),
    ("CNY", "Китайский юань", "12.6000", 400, "N", "# ¥"),
)


def add_stages(store: Store, entity_id: str, stages, system: bool) -> None:
    for status_id, name, sort, semantics in stages:
        store.add_status(
            {
                "ENTITY_ID": entity_id,
                "STATUS_ID": status_id,
                "NAME": name,
                "SORT": sort,
                "SEMANTICS": semantics,
                "SYSTEM": "Y" if system and "UC_" not in status_id else "N",
            }
        )


def load_empty(store: Store, admin_since: float | None = None) -> None:
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
            "DATE_REGISTER": int(admin_since or store.clock.now()),
        }
    )
    add_stages(store, "STATUS", DEFAULT_LEAD_STAGES, system=True)
    add_stages(store, "DEAL_STAGE", DEFAULT_DEAL_STAGES, system=True)
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
    for code, name, amount, sort, base, fmt in CURRENCIES:
        store.put_currency({"CURRENCY": code, "FULL_NAME": name, "AMOUNT": amount, "SORT": sort,
                            "BASE": base, "FORMAT_STRING": fmt})
