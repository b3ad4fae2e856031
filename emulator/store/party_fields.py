"""Field catalogue of the parties a deal is made with (contacts, companies), the activities bound
to CRM records, a deal's contacts and product rows: `Field`s as in `fields.py`."""

from emulator.store.fields import (
    DATE,
    DATETIME,
    FLAG,
    INT,
    JSON,
    MONEY,
    MULTIFIELDS,
    NUM,
    NUM_DOUBLE,
    TEXT,
    UTM_FIELDS,
    Field,
)

_f = Field

_PARTY_AUDIT = [
    _f("ASSIGNED_BY_ID", INT, "user", "Ответственный"),
    _f("CREATED_BY_ID", INT, "user", "Кем создан", read_only=True),
    _f("MODIFY_BY_ID", INT, "user", "Кем изменён", read_only=True),
    _f("DATE_CREATE", DATETIME, "datetime", "Дата создания", read_only=True),
    _f("DATE_MODIFY", DATETIME, "datetime", "Дата изменения", read_only=True),
    _f("OPENED", FLAG, "char", "Доступен для всех"),
    _f("COMMENTS", TEXT, "string", "Комментарий"),
    _f("SOURCE_ID", TEXT, "crm_status", "Источник", status_type="SOURCE"),
    _f("SOURCE_DESCRIPTION", TEXT, "string", "Дополнительно об источнике"),
    _f("ORIGINATOR_ID", TEXT, "string", "Внешний источник"),
    _f("ORIGIN_ID", TEXT, "string", "Идентификатор элемента во внешнем источнике"),
    *UTM_FIELDS,
    *MULTIFIELDS,
]

# `crm/contacts/crm-contact-fields.md`: a person; a repeat customer is one contact with several
# deals.
CONTACT_FIELDS: tuple[Field, ...] = (
    _f("ID", INT, "integer", "ID", read_only=True),
    _f("HONORIFIC", TEXT, "crm_status", "Обращение", status_type="HONORIFIC"),
    _f("NAME", TEXT, "string", "Имя"),
    _f("SECOND_NAME", TEXT, "string", "Отчество"),
    _f("LAST_NAME", TEXT, "string", "Фамилия"),
    _f("BIRTHDATE", DATE, "date", "Дата рождения"),
    _f("TYPE_ID", TEXT, "crm_status", "Тип контакта", status_type="CONTACT_TYPE"),
    _f("POST", TEXT, "string", "Должность"),
    _f("HAS_PHONE", FLAG, "char", "Есть телефон", read_only=True),
    _f("HAS_EMAIL", FLAG, "char", "Есть e-mail", read_only=True),
    _f("COMPANY_ID", INT, "crm_company", "Компания", deprecated=True),
    _f("LEAD_ID", INT, "crm_lead", "Лид", read_only=True),
    *_PARTY_AUDIT,
)

# The parts of a company's (deprecated, still answered) address fields, `ADDRESS` and
# `REG_ADDRESS` alike: field-name suffix → title suffix.
_ADDRESS_PARTS = (
    ("", ""), ("_2", " (стр. 2)"), ("_CITY", ": город"), ("_POSTAL_CODE", ": индекс"),
    ("_REGION", ": район"), ("_PROVINCE", ": область"), ("_COUNTRY", ": страна"),
    ("_COUNTRY_CODE", ": код страны"),
)

# `crm/companies/crm-company-fields.md`.
COMPANY_FIELDS: tuple[Field, ...] = (
    _f("ID", INT, "integer", "ID", read_only=True),
    _f("TITLE", TEXT, "string", "Название компании", required=True),
    _f("COMPANY_TYPE", TEXT, "crm_status", "Тип компании", status_type="COMPANY_TYPE"),
    _f("INDUSTRY", TEXT, "crm_status", "Сфера деятельности", status_type="INDUSTRY"),
    _f("REVENUE", MONEY, "double", "Годовой оборот"),
    _f("CURRENCY_ID", TEXT, "crm_currency", "Валюта"),
    _f("IS_MY_COMPANY", FLAG, "char", "Моя компания"),
    _f("EMPLOYEES", TEXT, "crm_status", "Кол-во сотрудников", status_type="EMPLOYEES"),
    _f("LOGO", JSON, "file", "Логотип"),
    _f("BANKING_DETAILS", TEXT, "string", "Реквизиты банка"),
    *(_f(f"{prefix}{part}", TEXT, "string", f"{title}{suffix}", deprecated=True)
      for prefix, title in (("ADDRESS", "Адрес"), ("REG_ADDRESS", "Юридический адрес"))
      for part, suffix in _ADDRESS_PARTS),
    _f("HAS_PHONE", FLAG, "char", "Есть телефон", read_only=True),
    _f("HAS_EMAIL", FLAG, "char", "Есть e-mail", read_only=True),
    _f("LEAD_ID", INT, "crm_lead", "Лид", read_only=True),
    *_PARTY_AUDIT,
)

# `crm/timeline/activities/activity-base/crm-activity-list.md`: calls, e-mails, chats, meetings
# and tasks bound to a CRM record; every value a string.
ACTIVITY_FIELDS: tuple[Field, ...] = (
    _f("ID", INT, "integer", "ID", read_only=True),
    _f("OWNER_ID", INT, "integer", "Владелец", required=True),
    _f("OWNER_TYPE_ID", INT, "integer", "Тип владельца", required=True),
    _f("TYPE_ID", INT, "crm_enum_activitytype", "Тип", required=True),
    _f("PROVIDER_ID", TEXT, "string", "Провайдер"),
    _f("PROVIDER_TYPE_ID", TEXT, "string", "Тип провайдера"),
    _f("SUBJECT", TEXT, "string", "Тема"),
    _f("CREATED", DATETIME, "datetime", "Дата создания", read_only=True),
    _f("LAST_UPDATED", DATETIME, "datetime", "Дата изменения", read_only=True),
    _f("START_TIME", DATETIME, "datetime", "Начало"),
    _f("END_TIME", DATETIME, "datetime", "Окончание"),
    _f("DEADLINE", DATETIME, "datetime", "Крайний срок"),
    _f("COMPLETED", FLAG, "char", "Выполнено"),
    _f("STATUS", INT, "crm_enum_activitystatus", "Статус"),
    _f("RESPONSIBLE_ID", INT, "user", "Ответственный"),
    _f("PRIORITY", INT, "crm_enum_activitypriority", "Важность"),
    _f("DIRECTION", INT, "crm_enum_activitydirection", "Направление"),
    _f("DESCRIPTION", TEXT, "string", "Описание"),
    _f("AUTHOR_ID", INT, "user", "Автор", read_only=True),
    _f("EDITOR_ID", INT, "user", "Кем изменено", read_only=True),
    _f("ORIGINATOR_ID", TEXT, "string", "Внешний источник"),
    _f("ORIGIN_ID", TEXT, "string", "Идентификатор во внешнем источнике"),
)

# `crm/deals/contacts/crm-deal-contact-fields.md`: a deal's link to one of its contacts.
DEAL_CONTACT_FIELDS: tuple[Field, ...] = (
    _f("SORT", NUM, "integer", "Сортировка"),
    _f("IS_PRIMARY", FLAG, "char", "Основной"),
    _f("CONTACT_ID", INT, "integer", "Контакт", required=True),
)

# `crm/deals/crm-deal-productrows-get.md`: what a deal (OWNER_TYPE D) or lead (L) sells.
PRODUCT_ROW_FIELDS: tuple[Field, ...] = (
    _f("ID", INT, "integer", "ID", read_only=True),
    _f("OWNER_ID", INT, "integer", "Владелец", read_only=True),
    _f("OWNER_TYPE", TEXT, "string", "Тип владельца", read_only=True),
    _f("PRODUCT_ID", NUM, "integer", "Товар"),
    _f("PRODUCT_NAME", TEXT, "string", "Название"),
    _f("PRICE", NUM_DOUBLE, "double", "Цена"),
    _f("QUANTITY", NUM_DOUBLE, "double", "Количество"),
    _f("DISCOUNT_TYPE_ID", NUM, "integer", "Тип скидки"),
    _f("DISCOUNT_RATE", NUM_DOUBLE, "double", "Скидка, %"),
    _f("DISCOUNT_SUM", NUM_DOUBLE, "double", "Скидка"),
    _f("TAX_RATE", NUM_DOUBLE, "double", "Налог, %"),
    _f("TAX_INCLUDED", FLAG, "char", "Налог включён в цену"),
    _f("MEASURE_CODE", NUM, "integer", "Код единицы"),
    _f("MEASURE_NAME", TEXT, "string", "Единица"),
    _f("SORT", NUM, "integer", "Сортировка"),
)
