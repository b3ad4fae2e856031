"""Reference methods an analytics client reads once a day: the portal's clock, its users and
departments, who the webhook's user is, which dictionaries the portal has, its currencies and
its custom fields.

API facts relied on (b24restdocs `api-reference/`):
- `user.current` answers the calling user's `user.get` row (`user/user-current.md`);
- `crm.status.entity.types` lists the dictionaries: `{ID, NAME, [SEMANTIC_INFO], [PREFIX],
  [ENTITY_TYPE_ID], [CATEGORY_ID], [PARENT_ID]}`; lead stages `STATUS`, a deal funnel's stages
  `DEAL_STAGE` (funnel 0) or `DEAL_STAGE_<n>` with `PREFIX` `C<n>` and `PARENT_ID` `DEAL_STAGE`
  (`crm/status/crm-status-entity-types.md`);
- `crm.currency.list` answers every field as a string, the base currency `BASE: "Y"`, amounts
  with four decimals (`crm/currency/crm-currency-list.md`);
- `crm.lead.userfield.list` / `crm.deal.userfield.list` answer `{ID, ENTITY_ID: CRM_LEAD|CRM_DEAL,
  FIELD_NAME, USER_TYPE_ID, SORT, MULTIPLE, MANDATORY, …, EDIT_FORM_LABEL, LIST_COLUMN_LABEL}` with
  IDs and flags as strings (`crm/deals/user-defined-fields/crm-deal-userfield-list.md`).
"""

from collections.abc import Callable, Mapping

from .calls import Call, Reply, RestError, list_page, param, start_of

# What a Russian portal's currency dictionary holds: the rouble as base, rates as of the demo.
CURRENCIES = (
    ("RUB", "Российский рубль", "1.0000", "100", "Y", "# ₽"),
    ("USD", "Доллар США", "91.5000", "200", "N", "$#"),
    ("EUR", "Евро", "99.2000", "300", "N", "# €"),
    ("CNY", "Китайский юань", "12.6000", "400", "N", "# ¥"),
)
_LEAD_STAGES = ("STATUS", "Стадии лидов", "NEW", "CONVERTED", "JUNK")


_USER_CONTROL = {"sort", "order", "filter", "start", "admin_mode", "select", "image_resize"}


def user_get(call: Call, params: Mapping) -> Reply:
    flt = (
        dict(param(params, "filter") or {}) if isinstance(param(params, "filter"), Mapping) else {}
    )
    # user.get also reads filter fields given at the top level (`user.get?ID=5`).
    flt.update({k: v for k, v in params.items() if str(k).lower() not in _USER_CONTROL})
    sort = param(params, "sort")
    order = None
    if isinstance(sort, str) and sort:
        order = {sort: param(params, "order") or "ASC"}
    entity = call.store.entity("user")
    every_field = tuple(f.name for f in entity.fields)
    select = param(params, "select")
    if isinstance(select, list) and {"*", "UF_*"} & set(select):
        select = None  # a user's UF_DEPARTMENT is a custom field: either mask gives every field
    rows, total, nxt = list_page(
        call, "user.get", entity, flt, order, select, start_of(params), every_field
    )
    return Reply(rows, total, nxt)


def user_add(call: Call, params: Mapping) -> Reply:
    fields = {str(k).upper(): v for k, v in params.items()}
    if not fields.get("EMAIL"):
        raise RestError("ERROR_ARGUMENT", "EMAIL is required", 400)
    fields.pop("ID", None)
    return Reply(call.store.add_user(fields))


def department_get(call: Call, params: Mapping) -> Reply:
    flt = {k: v for k, v in params.items() if str(k).lower() not in _USER_CONTROL}
    sort = param(params, "sort")
    order = {sort: param(params, "order") or "ASC"} if isinstance(sort, str) and sort else None
    entity = call.store.entity("department")

    def encode_row(row: dict) -> dict:
        return {k: v for k, v in row.items() if not (k == "UF_HEAD" and v is None)}

    rows, total, nxt = list_page(
        call, "department.get", entity, flt, order, None, start_of(params), ("*",), encode_row
    )
    return Reply(rows, total, nxt)


def server_time(call: Call, params: Mapping) -> Reply:
    return Reply(call.store.clock.format(call.store.clock.now()))


def user_current(call: Call, params: Mapping) -> Reply:
    rows = user_get(call, {"filter": {"ID": call.user_id}}).result
    if not rows:
        raise RestError("authorization_error", "Unable to authorize user", 401)
    return Reply(rows[0])


def status_entity_types(call: Call, params: Mapping) -> Reply:
    store = call.store
    entity_id, name, start, success, failure = _LEAD_STAGES
    out = [
        {"ID": entity_id, "NAME": name, "ENTITY_TYPE_ID": 1,
         "SEMANTIC_INFO": _semantic_info(store, entity_id, start, success, failure)},
        {"ID": "SOURCE", "NAME": "Источники"},
        {"ID": "DEAL_TYPE", "NAME": "Тип сделки"},
    ]
    for category_id, category_name in store.db.execute(
        "SELECT id, name FROM categories ORDER BY sort, id"
    ).fetchall():
        prefix = f"C{category_id}:" if category_id else ""
        row = {
            "ID": "DEAL_STAGE" if not category_id else f"DEAL_STAGE_{category_id}",
            "NAME": f"Стадии сделки ({category_name})",
            "ENTITY_TYPE_ID": 2,
            "CATEGORY_ID": str(category_id),
        }
        if category_id:
            row.update(PARENT_ID="DEAL_STAGE", PREFIX=f"C{category_id}")
        row["SEMANTIC_INFO"] = _semantic_info(
            store, row["ID"], f"{prefix}NEW", f"{prefix}WON", f"{prefix}LOSE"
        )
        out.append(row)
    return Reply(out)


def _semantic_info(store, entity_id: str, start: str, success: str, failure: str) -> dict:
    """The dictionary's own first stage and its first success and failure stages, falling back
    to the system codes when a portal renamed none."""
    first = store.first_stage(entity_id) or start

    def first_with(semantics: str, default: str) -> str:
        row = store.db.execute(
            "SELECT STATUS_ID FROM statuses WHERE ENTITY_ID = ? AND SEMANTICS = ?"
            " ORDER BY SORT, ID LIMIT 1",
            (entity_id, semantics),
        ).fetchone()
        return row[0] if row else default

    return {
        "START_FIELD": first,
        "FINAL_SUCCESS_FIELD": first_with("S", success),
        "FINAL_UNSUCCESS_FIELD": first_with("F", failure),
        "FINAL_SORT": 0,
    }


def currency_list(call: Call, params: Mapping) -> Reply:
    date = call.store.clock.format(call.store.clock.now())
    rows = [
        {"CURRENCY": code, "AMOUNT_CNT": "1", "AMOUNT": amount, "SORT": sort, "BASE": base,
         "FULL_NAME": name, "LID": "ru", "FORMAT_STRING": fmt, "DEC_POINT": ".",
         "THOUSANDS_SEP": "&nbsp;", "DECIMALS": "2", "DATE_UPDATE": date}
        for code, name, amount, sort, base, fmt in CURRENCIES
    ]
    call.rows_returned("crm.currency.list", len(rows))
    return Reply(rows, len(rows))


def _userfield_list(kind: str) -> Callable[[Call, Mapping], Reply]:
    def handler(call: Call, params: Mapping) -> Reply:
        rows = [
            {"ID": str(i), "ENTITY_ID": f"CRM_{kind.upper()}", "FIELD_NAME": name,
             "USER_TYPE_ID": uf_type, "XML_ID": None, "SORT": str(100 * i), "MULTIPLE": "N",
             "MANDATORY": "N", "SHOW_FILTER": "E", "SHOW_IN_LIST": "Y", "EDIT_IN_LIST": "Y",
             "IS_SEARCHABLE": "N", "SETTINGS": {}, "EDIT_FORM_LABEL": title,
             "LIST_COLUMN_LABEL": title, "LIST_FILTER_LABEL": title, "ERROR_MESSAGE": None,
             "HELP_MESSAGE": None}
            for i, (name, uf_type, title) in enumerate(call.store.userfields(kind), start=1)
        ]
        call.rows_returned(f"crm.{kind}.userfield.list", len(rows))
        return Reply(rows, len(rows))

    return handler


METHODS: dict[str, Callable[[Call, Mapping], Reply]] = {
    "server.time": server_time,
    "user.get": user_get,
    "user.add": user_add,
    "user.current": user_current,
    "department.get": department_get,
    "crm.status.entity.types": status_entity_types,
    "crm.currency.list": currency_list,
    "crm.lead.userfield.list": _userfield_list("lead"),
    "crm.deal.userfield.list": _userfield_list("deal"),
}
