"""Reference methods an analytics client reads once a day: who the webhook's user is, which
dictionaries the portal has, its currencies and its custom fields.

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

from .calls import Call, Reply, RestError
from .methods import user_get

# What a Russian portal's currency dictionary holds: the rouble as base, rates as of the demo.
CURRENCIES = (
    ("RUB", "Российский рубль", "1.0000", "100", "Y", "# ₽"),
    ("USD", "Доллар США", "91.5000", "200", "N", "$#"),
    ("EUR", "Евро", "99.2000", "300", "N", "# €"),
    ("CNY", "Китайский юань", "12.6000", "400", "N", "# ¥"),
)
_LEAD_STAGES = ("STATUS", "Стадии лидов", "NEW", "CONVERTED", "JUNK")


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
    "user.current": user_current,
    "crm.status.entity.types": status_entity_types,
    "crm.currency.list": currency_list,
    "crm.lead.userfield.list": _userfield_list("lead"),
    "crm.deal.userfield.list": _userfield_list("deal"),
}
