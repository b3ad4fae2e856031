"""The dictionaries a new Bitrix24 portal comes with (ru locale): lead stages, the deal stages of a
funnel, sources and deal types, as `(code, name, sort, semantics)` / `(code, name)` tuples.

A funnel added later (`crm.category.add`) gets the deal stages with the prefix `C<n>:`.
"""

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
