"""Reference methods an analytics client reads once a day: the portal's clock, its users and
departments, who the webhook's user is, which dictionaries the portal has, its currencies and
its custom fields.

API facts relied on (b24restdocs `api-reference/`):
- `user.current` answers the calling user's `user.get` row (`user/user-current.md`); `user.get`
  answers an empty text field as `""`, `TIMESTAMP_X` and `LAST_ACTIVITY_DATE` as `{}`
  (`user/user-get.md`); `user.update {ID, …fields}` answers `true`, `ACTIVE: N` dismisses
  (`user/user-update.md`); `user.fields` and `department.fields` answer `{FIELD: title}`
  (`user/user-fields.md`, `departments/department-fields.md`);
- `crm.status.entity.types` lists the dictionaries: `{ID, NAME, [SEMANTIC_INFO], [PREFIX],
  [ENTITY_TYPE_ID], [CATEGORY_ID], [PARENT_ID]}`; lead stages `STATUS`, a deal funnel's stages
  `DEAL_STAGE` (funnel 0) or `DEAL_STAGE_<n>` with `PREFIX` `C<n>` and `PARENT_ID` `DEAL_STAGE`
  (`crm/status/crm-status-entity-types.md`);
- `crm.currency.list` answers every field as a string, the base currency `BASE: "Y"`, amounts
  with four decimals: `AMOUNT_CNT` units of a currency cost `AMOUNT` of the base currency
  (`crm/currency/crm-currency-list.md`); `crm.currency.get {id}` one such row;
  `crm.currency.base.get` the base currency's code, `crm.currency.base.set {id}` changes it
  (the other rates are then the caller's to update); `crm.currency.add {fields}`,
  `crm.currency.update {id, fields}`, `crm.currency.delete {id}` answer `true`
  (`crm/currency/crm-currency-*.md`);
- `crm.lead.userfield.list` / `crm.deal.userfield.list` answer `{ID, ENTITY_ID: CRM_LEAD|CRM_DEAL,
  FIELD_NAME, USER_TYPE_ID, SORT, MULTIPLE, MANDATORY, …, EDIT_FORM_LABEL, LIST_COLUMN_LABEL}` with
  IDs and flags as strings, filtered on any of those fields and ordered by `order`
  (`crm/deals/user-defined-fields/crm-deal-userfield-list.md`).
"""

from collections.abc import Callable, Mapping

from emulator.methods.calls import (
    Call,
    Reply,
    RestError,
    array_param,
    int_param,
    list_page,
    param,
    start_of,
)
from emulator.store.fields import TEXT
from emulator.store.store import NotFound

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
    texts = [f.name for f in entity.fields if f.kind == TEXT]

    def encode_row(row: dict) -> dict:
        for name in texts:
            if name in row and row[name] is None:
                row[name] = ""
        if select is None or "TIMESTAMP_X" in select:
            row["TIMESTAMP_X"] = {}
        if select is None or "LAST_ACTIVITY_DATE" in select:
            row["LAST_ACTIVITY_DATE"] = {}
        return row

    rows, total, nxt = list_page(
        call, "user.get", entity, flt, order, select, start_of(params), every_field, encode_row
    )
    return Reply(rows, total, nxt)


def user_update(call: Call, params: Mapping) -> Reply:
    fields = {str(k).upper(): v for k, v in params.items()}
    user_id = int_param(fields, "ID")
    if not user_id:
        raise RestError("ERROR_ARGUMENT", "ID is required", 400)
    if "ACTIVE" in fields and isinstance(fields["ACTIVE"], str):
        fields["ACTIVE"] = fields["ACTIVE"].upper() in ("Y", "TRUE", "1")
    try:
        call.store.update_user(user_id, {k: v for k, v in fields.items() if k != "ID"})
    except NotFound:
        raise RestError("ERROR_NOT_FOUND", "User not found", 400) from None
    return Reply(True)


def _titles(entity_name: str):
    def handler(call: Call, params: Mapping) -> Reply:
        return Reply({f.name: f.title for f in call.store.entity(entity_name).fields})

    return handler


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


def _currency_row(row: Mapping, date: str) -> dict:
    return {"CURRENCY": row["CURRENCY"], "AMOUNT_CNT": str(row["AMOUNT_CNT"]),
            "AMOUNT": f"{float(row['AMOUNT']):.4f}", "SORT": str(row["SORT"]),
            "BASE": row["BASE"], "FULL_NAME": row["FULL_NAME"], "LID": "ru",
            "FORMAT_STRING": row["FORMAT_STRING"], "DEC_POINT": ".",
            "THOUSANDS_SEP": "&nbsp;", "DECIMALS": "2", "DATE_UPDATE": date}


def currency_list(call: Call, params: Mapping) -> Reply:
    clock = call.store.clock
    rows = [_currency_row(r, clock.format(r["DATE_UPDATE"])) for r in call.store.currencies()]
    call.rows_returned("crm.currency.list", len(rows))
    return Reply(rows, len(rows))


def _currency_code(call: Call, params: Mapping) -> str:
    code = param(params, "id")
    if not isinstance(code, str) or not call.store.currencies(code.upper()):
        raise RestError("", "Currency is not found.")
    return code.upper()


def currency_get(call: Call, params: Mapping) -> Reply:
    row = call.store.currencies(_currency_code(call, params))[0]
    return Reply(_currency_row(row, call.store.clock.format(row["DATE_UPDATE"])))


def currency_base_get(call: Call, params: Mapping) -> Reply:
    return Reply(next(r["CURRENCY"] for r in call.store.currencies() if r["BASE"] == "Y"))


def currency_base_set(call: Call, params: Mapping) -> Reply:
    call.store.put_currency({"CURRENCY": _currency_code(call, params), "BASE": "Y"})
    return Reply(True)


def _currency_fields(params: Mapping) -> dict:
    fields = array_param(params, "fields")
    if fields is None:
        raise RestError("", "Parameter 'fields' must be array.")
    out = {}
    for key, value in fields.items():
        key = str(key).upper()
        if key in ("AMOUNT", "AMOUNT_CNT", "SORT"):
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise RestError("", f"The field {key} must be a number.") from None
            if number <= 0 and key != "SORT":
                raise RestError("", f"The field {key} must be positive.")
            out[key] = number if key == "AMOUNT" else int(number)
        elif key == "BASE":
            out[key] = "Y" if str(value).upper() == "Y" else "N"
        elif key == "LANG" and isinstance(value, Mapping):
            lang = value.get("ru") or next(iter(value.values()), {})
            if isinstance(lang, Mapping):
                out.update({k: str(lang[k]) for k in ("FULL_NAME", "FORMAT_STRING") if k in lang})
    return out


def currency_add(call: Call, params: Mapping) -> Reply:
    fields = _currency_fields(params)
    code = str(array_param(params, "fields").get("CURRENCY") or "").upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise RestError("", "The field CURRENCY must be a 3-letter ISO 4217 code.")
    if call.store.currencies(code):
        raise RestError("", f"Currency {code} already exists.")
    if "AMOUNT" not in fields:
        raise RestError("", "The field AMOUNT is required.")
    call.store.put_currency({**fields, "CURRENCY": code})
    return Reply(code)


def currency_update(call: Call, params: Mapping) -> Reply:
    code = _currency_code(call, params)
    call.store.put_currency({**_currency_fields(params), "CURRENCY": code})
    return Reply(True)


def currency_delete(call: Call, params: Mapping) -> Reply:
    code = _currency_code(call, params)
    if call.store.currencies(code)[0]["BASE"] == "Y":
        raise RestError("", "The base currency cannot be deleted.")
    call.store.delete_currency(code)
    return Reply(True)


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
        for key, wanted in (array_param(params, "filter") or {}).items():
            rows = [r for r in rows if str(r.get(str(key).upper())) == str(wanted)]
        for key, direction in reversed(list((array_param(params, "order") or {}).items())):
            key = str(key).upper()
            numeric = key in ("ID", "SORT")
            rows.sort(key=lambda r: int(r[key]) if numeric else str(r.get(key) or ""),
                      reverse=str(direction).upper() == "DESC")
        call.rows_returned(f"crm.{kind}.userfield.list", len(rows))
        return Reply(rows, len(rows))

    return handler


METHODS: dict[str, Callable[[Call, Mapping], Reply]] = {
    "server.time": server_time,
    "user.get": user_get,
    "user.add": user_add,
    "user.current": user_current,
    "user.update": user_update,
    "user.fields": _titles("user"),
    "department.get": department_get,
    "department.fields": _titles("department"),
    "crm.status.entity.types": status_entity_types,
    "crm.currency.list": currency_list,
    "crm.currency.get": currency_get,
    "crm.currency.base.get": currency_base_get,
    "crm.currency.base.set": currency_base_set,
    "crm.currency.add": currency_add,
    "crm.currency.update": currency_update,
    "crm.currency.delete": currency_delete,
    "crm.lead.userfield.list": _userfield_list("lead"),
    "crm.deal.userfield.list": _userfield_list("deal"),
}
