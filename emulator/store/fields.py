"""Field catalogue of the emulated portal: what each entity has, how it is stored and sent.

One `Field` describes a column once, and everything else is derived from it: the SQLite schema,
the `crm.*.fields` answer, the legacy wire encoding and the type a filter value is coerced to.
The records with stages, their history and dictionaries, users and departments are here; the
parties (contacts, companies), activities and product rows in `party_fields.py`.

API facts relied on (docs/bitrix24-api.md §5, §7):
- legacy `crm.lead.*` / `crm.deal.*` send integers and IDs as JSON strings, money as a string with
  two decimals, flags as `"Y"`/`"N"`, datetimes as `YYYY-MM-DDThh:mm:ss±hh:mm` in the portal zone
  and `""` when empty; date-only fields as a datetime whose time part equals the UTC offset;
- multiple fields (`PHONE`, `EMAIL`, `WEB`, `IM`, `LINK`) are returned by list methods only
  when selected by name; `CONTACT_IDS` is described and written but never returned by the legacy
  list/get (`crm-deal-list.md`: use `crm.deal.contact.items.get`);
- descriptions carry `settings` (a link's `parentEntityTypeId`) and `isDeprecated` (the single
  `CONTACT_ID`), as `crm-lead-fields.md` shows;
- `user.get` sends `ACTIVE` as a JSON boolean and `UF_DEPARTMENT` as an int array.

Storage: IDs and user links as INTEGER, datetimes as INTEGER unix seconds (UTC), dates as TEXT
`YYYY-MM-DD`, money as the raw TEXT the portal keeps (so a corrupted amount survives as it would
after a broken import), multiple and custom fields as JSON TEXT.
"""

from dataclasses import dataclass

# Storage kinds: how a value sits in SQLite and how it is encoded on the wire.
INT = "int"  # INTEGER, sent as a string
NUM = "num"  # INTEGER, sent as a JSON number (stage history, departments' SORT)
NUM_DOUBLE = "num_double"  # REAL, sent as a JSON number (product rows' prices)
TEXT = "text"  # TEXT, sent as is
FLAG = "flag"  # TEXT 'Y'/'N'
BOOL = "bool"  # INTEGER 0/1, sent as a JSON boolean
MONEY = "money"  # TEXT, raw as stored
DATETIME = "datetime"  # INTEGER unix seconds, sent as ISO with the portal offset, "" when empty
DATE = "date"  # TEXT YYYY-MM-DD, sent with the offset-as-time quirk, "" when empty
JSON = "json"  # TEXT holding JSON (multifields, int arrays)

SQL_TYPES = {
    INT: "INTEGER",
    NUM: "INTEGER",
    NUM_DOUBLE: "REAL",
    TEXT: "TEXT",
    FLAG: "TEXT",
    BOOL: "INTEGER",
    MONEY: "TEXT",
    DATETIME: "INTEGER",
    DATE: "TEXT",
    JSON: "TEXT",
}


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: str
    api_type: str
    title: str
    read_only: bool = False
    immutable: bool = False
    multiple: bool = False
    required: bool = False
    status_type: str | None = None
    settings: tuple = ()  # (key, value) pairs of the description's `settings`
    deprecated: bool = False
    listed: bool = True  # False: described and written, never sent by list/get (CONTACT_IDS)

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.kind]

    def describe(self) -> dict:
        """The `crm.*.fields` description of this field."""
        out = {
            "type": self.api_type,
            "isRequired": self.required,
            "isReadOnly": self.read_only,
            "isImmutable": self.immutable,
            "isMultiple": self.multiple,
            "isDynamic": False,
            "title": self.title,
        }
        if self.status_type:
            out["statusType"] = self.status_type
        if self.settings:
            out["settings"] = dict(self.settings)
        if self.deprecated:
            out["isDeprecated"] = True
        return out


_f = Field  # the catalogues below, one field a line


UTM_FIELDS = [
    _f("UTM_SOURCE", TEXT, "string", "Рекламная система"),
    _f("UTM_MEDIUM", TEXT, "string", "Тип трафика"),
    _f("UTM_CAMPAIGN", TEXT, "string", "Обозначение рекламной кампании"),
    _f("UTM_CONTENT", TEXT, "string", "Содержание кампании"),
    _f("UTM_TERM", TEXT, "string", "Условие поиска кампании"),
]

# A person's or company's means of contact (crm_multifield: {ID, VALUE_TYPE, VALUE, TYPE_ID}).
MULTIFIELDS = [
    _f("PHONE", JSON, "crm_multifield", "Телефон", multiple=True),
    _f("EMAIL", JSON, "crm_multifield", "E-mail", multiple=True),
    _f("WEB", JSON, "crm_multifield", "Сайт", multiple=True),
    _f("IM", JSON, "crm_multifield", "Мессенджер", multiple=True),
]

_AUDIT = [
    _f("ASSIGNED_BY_ID", INT, "user", "Ответственный"),
    _f("CREATED_BY_ID", INT, "user", "Кем создан", read_only=True),
    _f("MODIFY_BY_ID", INT, "user", "Кем изменён", read_only=True),
    _f("MOVED_BY_ID", INT, "user", "Кем изменена стадия", read_only=True),
    _f("DATE_CREATE", DATETIME, "datetime", "Дата создания", read_only=True),
    _f("DATE_MODIFY", DATETIME, "datetime", "Дата изменения", read_only=True),
    _f("MOVED_TIME", DATETIME, "datetime", "Дата изменения стадии", read_only=True),
    _f("LAST_ACTIVITY_TIME", DATETIME, "datetime", "Последняя активность", read_only=True),
    _f("LAST_ACTIVITY_BY", INT, "user", "Автор последней активности", read_only=True),
]

LEAD_FIELDS: tuple[Field, ...] = (
    _f("ID", INT, "integer", "ID", read_only=True),
    _f("TITLE", TEXT, "string", "Название лида"),
    _f("HONORIFIC", TEXT, "crm_status", "Обращение", status_type="HONORIFIC"),
    _f("NAME", TEXT, "string", "Имя"),
    _f("SECOND_NAME", TEXT, "string", "Отчество"),
    _f("LAST_NAME", TEXT, "string", "Фамилия"),
    _f("BIRTHDATE", DATE, "date", "Дата рождения"),
    _f("COMPANY_TITLE", TEXT, "string", "Название компании"),
    _f("SOURCE_ID", TEXT, "crm_status", "Источник", status_type="SOURCE"),
    _f("SOURCE_DESCRIPTION", TEXT, "string", "Дополнительно об источнике"),
    _f("STATUS_ID", TEXT, "crm_status", "Стадия", status_type="STATUS"),
    _f("STATUS_DESCRIPTION", TEXT, "string", "Дополнительно о стадии"),
    _f("STATUS_SEMANTIC_ID", TEXT, "string", "Состояние статуса", read_only=True),
    _f("POST", TEXT, "string", "Должность"),
    _f("ADDRESS", TEXT, "string", "Адрес"),
    _f("ADDRESS_2", TEXT, "string", "Адрес (стр. 2)"),
    _f("ADDRESS_CITY", TEXT, "string", "Город"),
    _f("ADDRESS_POSTAL_CODE", TEXT, "string", "Почтовый индекс"),
    _f("ADDRESS_REGION", TEXT, "string", "Район"),
    _f("ADDRESS_PROVINCE", TEXT, "string", "Область"),
    _f("ADDRESS_COUNTRY", TEXT, "string", "Страна"),
    _f("ADDRESS_COUNTRY_CODE", TEXT, "string", "Код страны"),
    _f("ADDRESS_LOC_ADDR_ID", INT, "integer", "Идентификатор адреса местоположения"),
    _f("CURRENCY_ID", TEXT, "crm_currency", "Валюта"),
    _f("OPPORTUNITY", MONEY, "double", "Сумма"),
    _f("IS_MANUAL_OPPORTUNITY", FLAG, "char", "Сумма заполнена вручную"),
    _f("OPENED", FLAG, "char", "Доступен для всех"),
    _f("COMMENTS", TEXT, "string", "Комментарий"),
    _f("HAS_PHONE", FLAG, "char", "Есть телефон", read_only=True),
    _f("HAS_EMAIL", FLAG, "char", "Есть e-mail", read_only=True),
    _f("HAS_IMOL", FLAG, "char", "Есть открытая линия", read_only=True),
    *_AUDIT,
    _f("COMPANY_ID", INT, "crm_company", "Компания", settings=(("parentEntityTypeId", 4),)),
    _f("CONTACT_ID", INT, "crm_contact", "Контакт", deprecated=True),
    _f("CONTACT_IDS", JSON, "crm_contact", "Контакты", multiple=True, listed=False),
    _f("IS_RETURN_CUSTOMER", FLAG, "char", "Повторный лид", read_only=True),
    _f("DATE_CLOSED", DATETIME, "datetime", "Дата закрытия", read_only=True),
    _f("ORIGINATOR_ID", TEXT, "string", "Внешний источник"),
    _f("ORIGIN_ID", TEXT, "string", "Идентификатор элемента во внешнем источнике"),
    *UTM_FIELDS,
    *MULTIFIELDS,
    _f("LINK", JSON, "crm_multifield", "LINK", multiple=True),
)

DEAL_FIELDS: tuple[Field, ...] = (
    _f("ID", INT, "integer", "ID", read_only=True),
    _f("TITLE", TEXT, "string", "Название"),
    _f("TYPE_ID", TEXT, "crm_status", "Тип", status_type="DEAL_TYPE"),
    _f("CATEGORY_ID", INT, "crm_category", "Воронка", immutable=True),
    _f("STAGE_ID", TEXT, "crm_status", "Стадия сделки", status_type="DEAL_STAGE"),
    _f("STAGE_SEMANTIC_ID", TEXT, "string", "Группа стадии", read_only=True),
    _f("IS_NEW", FLAG, "char", "Новая сделка", read_only=True),
    _f("IS_RECURRING", FLAG, "char", "Регулярная сделка"),
    _f("IS_RETURN_CUSTOMER", FLAG, "char", "Повторная сделка"),
    _f("IS_REPEATED_APPROACH", FLAG, "char", "Повторное обращение"),
    _f("PROBABILITY", INT, "integer", "Вероятность"),
    _f("CURRENCY_ID", TEXT, "crm_currency", "Валюта"),
    _f("OPPORTUNITY", MONEY, "double", "Сумма"),
    _f("IS_MANUAL_OPPORTUNITY", FLAG, "char", "Сумма заполнена вручную"),
    _f("TAX_VALUE", MONEY, "double", "Ставка налога"),
    _f("COMPANY_ID", INT, "crm_company", "Компания", settings=(("parentEntityTypeId", 4),)),
    _f("CONTACT_ID", INT, "crm_contact", "Контакт", deprecated=True),
    _f("CONTACT_IDS", JSON, "crm_contact", "Контакты", multiple=True, listed=False),
    _f("QUOTE_ID", INT, "crm_quote", "Предложение", read_only=True),
    _f("BEGINDATE", DATE, "date", "Дата начала"),
    _f("CLOSEDATE", DATE, "date", "Предполагаемая дата закрытия"),
    _f("OPENED", FLAG, "char", "Доступна для всех"),
    _f("CLOSED", FLAG, "char", "Сделка закрыта"),
    _f("COMMENTS", TEXT, "string", "Комментарий"),
    *_AUDIT,
    _f("SOURCE_ID", TEXT, "crm_status", "Источник", status_type="SOURCE"),
    _f("SOURCE_DESCRIPTION", TEXT, "string", "Дополнительно об источнике"),
    _f("LEAD_ID", INT, "crm_lead", "Лид", read_only=True),
    _f("ADDITIONAL_INFO", TEXT, "string", "Дополнительная информация"),
    _f("LOCATION_ID", TEXT, "location", "Местоположение"),
    _f("ORIGINATOR_ID", TEXT, "string", "Внешний источник"),
    _f("ORIGIN_ID", TEXT, "string", "Идентификатор элемента во внешнем источнике"),
    *UTM_FIELDS,
)

LEAD_HISTORY_FIELDS: tuple[Field, ...] = (
    _f("ID", NUM, "integer", "ID", read_only=True),
    _f("TYPE_ID", NUM, "integer", "Тип записи", read_only=True),
    _f("OWNER_ID", NUM, "integer", "Лид", read_only=True),
    _f("CREATED_TIME", DATETIME, "datetime", "Время перехода", read_only=True),
    _f("STATUS_ID", TEXT, "crm_status", "Стадия", read_only=True),
    _f("STATUS_SEMANTIC_ID", TEXT, "string", "Группа стадии", read_only=True),
)

DEAL_HISTORY_FIELDS: tuple[Field, ...] = (
    _f("ID", NUM, "integer", "ID", read_only=True),
    _f("TYPE_ID", NUM, "integer", "Тип записи", read_only=True),
    _f("OWNER_ID", NUM, "integer", "Сделка", read_only=True),
    _f("CREATED_TIME", DATETIME, "datetime", "Время перехода", read_only=True),
    _f("CATEGORY_ID", NUM, "integer", "Воронка", read_only=True),
    _f("STAGE_ID", TEXT, "crm_status", "Стадия", read_only=True),
    _f("STAGE_SEMANTIC_ID", TEXT, "string", "Группа стадии", read_only=True),
)

STATUS_FIELDS: tuple[Field, ...] = (
    _f("ID", INT, "integer", "ID", read_only=True),
    _f("ENTITY_ID", TEXT, "string", "Справочник", required=True),
    _f("STATUS_ID", TEXT, "string", "Код", required=True),
    _f("NAME", TEXT, "string", "Название", required=True),
    _f("NAME_INIT", TEXT, "string", "Название по умолчанию", read_only=True),
    _f("SORT", INT, "integer", "Сортировка"),
    _f("SYSTEM", FLAG, "char", "Системный", read_only=True),
    _f("CATEGORY_ID", INT, "integer", "Воронка", read_only=True),
    _f("COLOR", TEXT, "string", "Цвет"),
    _f("SEMANTICS", TEXT, "string", "Семантика", read_only=True),
)

USER_FIELDS: tuple[Field, ...] = (
    _f("ID", INT, "integer", "ID", read_only=True),
    _f("XML_ID", TEXT, "string", "Внешний код"),
    _f("ACTIVE", BOOL, "boolean", "Активность"),
    _f("NAME", TEXT, "string", "Имя"),
    _f("LAST_NAME", TEXT, "string", "Фамилия"),
    _f("SECOND_NAME", TEXT, "string", "Отчество"),
    _f("EMAIL", TEXT, "string", "E-mail"),
    _f("LAST_LOGIN", DATETIME, "datetime", "Последняя авторизация", read_only=True),
    _f("DATE_REGISTER", DATETIME, "datetime", "Дата регистрации", read_only=True),
    _f("IS_ONLINE", FLAG, "char", "Онлайн", read_only=True),
    _f("TIME_ZONE", TEXT, "string", "Часовой пояс"),
    _f("PERSONAL_GENDER", TEXT, "string", "Пол"),
    _f("PERSONAL_MOBILE", TEXT, "string", "Мобильный телефон"),
    _f("WORK_POSITION", TEXT, "string", "Должность"),
    _f("PERSONAL_BIRTHDAY", DATETIME, "date", "Дата рождения"),
    _f("UF_EMPLOYMENT_DATE", TEXT, "string", "Дата принятия на работу"),
    _f("UF_DEPARTMENT", JSON, "integer", "Подразделения", multiple=True),
    _f("USER_TYPE", TEXT, "string", "Тип пользователя", read_only=True),
)

DEPARTMENT_FIELDS: tuple[Field, ...] = (
    _f("ID", INT, "integer", "ID", read_only=True),
    _f("NAME", TEXT, "string", "Название", required=True),
    _f("SORT", NUM, "integer", "Сортировка"),
    _f("PARENT", INT, "integer", "Вышестоящее подразделение"),
    _f("UF_HEAD", INT, "integer", "Руководитель"),
)

CATEGORY_FIELDS: tuple[Field, ...] = (
    _f("id", NUM, "integer", "ID", read_only=True),
    _f("name", TEXT, "string", "Название"),
    _f("sort", NUM, "integer", "Сортировка"),
    _f("entityTypeId", NUM, "integer", "Тип сущности", read_only=True),
    _f("isDefault", FLAG, "char", "По умолчанию"),
    _f("originId", TEXT, "string", "Внешний код"),
    _f("originatorId", TEXT, "string", "Внешний источник"),
)
