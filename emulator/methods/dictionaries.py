"""REST methods of the portal's dictionaries: stage history, statuses (lead statuses, deal
stages, sources) and deal funnels. Handlers as in `crm.py`.

API facts relied on (docs/bitrix24-api.md §5–7):
- `crm.stagehistory.list` and `crm.category.list` wrap rows in `result.items` /
  `result.categories`, with native integers (string-typed stage history is a portal option, as
  older portals answer);
- `crm.status.get/update/delete {id}` address a status by its numeric row ID; update changes
  `NAME`, `SORT`, `COLOR`; delete refuses a system status without `params: {FORCED: "Y"}` and a
  status records still sit in (`crm/status/crm-status-*.md`);
- `crm.category.get/update {entityTypeId, id}` answer `{"category": {…}}`, delete answers null
  and refuses the default funnel and a funnel that holds deals (`universal/category/*.md`).
"""

from collections.abc import Callable, Mapping

from emulator.methods.calls import (
    Call,
    Reply,
    RestError,
    array_param,
    entity_type,
    int_param,
    list_page,
    param,
    start_of,
)
from emulator.store.defaults import DEFAULT_DEAL_STAGES
from emulator.store.encoding import resolve_select, row_encoder
from emulator.store.query import build_order, build_where


def stagehistory_list(call: Call, params: Mapping) -> Reply:
    """An ORM method: an unknown field, a bad value or direction is `INVALID_ARG_VALUE`."""
    kind = entity_type(params, {1: "lead_history", 2: "deal_history"})
    encode_row = None
    if call.options.get("stagehistory_legacy_strings"):

        def encode_row(row: dict) -> dict:
            return {k: str(v) if isinstance(v, int) else v for k, v in row.items()}

    rows, total, nxt = list_page(
        call,
        "crm.stagehistory.list",
        call.store.entity(kind),
        array_param(params, "filter"),
        array_param(params, "order"),
        param(params, "select"),
        start_of(params),
        default_select=("*",),
        encode_row=encode_row,
        strict=True,
    )
    return Reply({"items": rows}, total, nxt)


def _status_row(row: dict) -> dict:
    semantics = row.get("SEMANTICS")
    extra = {"S": "success", "F": "failure"}.get(semantics or "", "process")
    row["SORT"] = str(row["SORT"]) if row.get("SORT") is not None else None
    row["EXTRA"] = {"SEMANTICS": extra, "COLOR": row.get("COLOR")}
    return row


def status_list(call: Call, params: Mapping) -> Reply:
    entity = call.store.entity("status")
    store = call.store
    where, args = build_where(entity, array_param(params, "filter"), store.clock)
    order_sql = build_order(entity, array_param(params, "order") or {"SORT": "ASC"})
    cols_sql, encode = row_encoder(resolve_select(entity, ["*"]), store.clock)
    rows = [_status_row(encode(r)) for r in store.select(entity, cols_sql, where, args, order_sql)]
    call.rows_returned("crm.status.list", len(rows))
    return Reply(rows, len(rows))


def status_add(call: Call, params: Mapping) -> Reply:
    fields = param(params, "fields")
    if not isinstance(fields, Mapping):
        raise RestError("", "Parameter 'fields' must be array.")
    fields = {str(k).upper(): v for k, v in fields.items()}
    for required in ("ENTITY_ID", "STATUS_ID", "NAME"):
        if not fields.get(required):
            raise RestError("", f"The field {required} is required.")
    if call.store.status_exists(str(fields["ENTITY_ID"]), str(fields["STATUS_ID"])):
        raise RestError("", f"The status {fields['STATUS_ID']} already exists.")
    semantics = str(fields.get("SEMANTICS") or "").upper() or None
    if semantics not in (None, "S", "F"):
        semantics = None
    new_id = call.store.add_status(
        {
            "ENTITY_ID": fields["ENTITY_ID"],
            "STATUS_ID": fields["STATUS_ID"],
            "NAME": fields["NAME"],
            "SORT": fields.get("SORT") or 10,
            "COLOR": fields.get("COLOR"),
            "SEMANTICS": semantics,
            "SYSTEM": "N",
        }
    )
    return Reply(new_id)


def _row(call: Call, kind: str, row_id: int | None) -> dict | None:
    """One row of a dictionary (`status`, `category`) by its ID, as the wire shows it."""
    entity = call.store.entity(kind)
    cols_sql, encode = row_encoder(resolve_select(entity, ["*"]), call.store.clock)
    rows = [] if row_id is None else call.store.select(
        entity, cols_sql, f'"{entity.id_field}" = ?', [row_id], "")
    return encode(rows[0]) if rows else None


def _status_of(call: Call, params: Mapping) -> dict:
    row_id = int_param(params, "id")
    if row_id is None or row_id <= 0:
        raise RestError("", "Invalid identifier.")
    row = _row(call, "status", row_id)
    if row is None:
        raise RestError("", "Status is not found.")
    return row


def status_get(call: Call, params: Mapping) -> Reply:
    row = _status_of(call, params)
    row["SORT"] = str(row["SORT"]) if row.get("SORT") is not None else None
    return Reply(row)


def status_update(call: Call, params: Mapping) -> Reply:
    row = _status_of(call, params)
    fields = param(params, "fields")
    if not isinstance(fields, Mapping):
        raise RestError("", "Parameter 'fields' must be array.")
    changes = {str(k).upper(): v for k, v in fields.items()}
    if "SORT" in changes:
        changes["SORT"] = int_param(changes, "SORT") or 10
    if "NAME" in changes and not str(changes["NAME"] or "").strip():
        raise RestError("", "Error on updating status.")
    call.store.update_status(int(row["ID"]), changes)
    return Reply(True)


def status_delete(call: Call, params: Mapping) -> Reply:
    row = _status_of(call, params)
    flags = param(params, "params")
    forced = isinstance(flags, Mapping) and str(flags.get("FORCED", "")).upper() == "Y"
    if row["SYSTEM"] == "Y" and not forced:
        raise RestError(
            "", 'CRM System Status can be deleted only if parameter FORCED is specified and '
            'equal to "Y".'
        )
    if call.store.status_in_use(row["ENTITY_ID"], row["STATUS_ID"]):
        raise RestError("", "There are active items in this status.")
    call.store.delete_status(int(row["ID"]))
    return Reply(True)


def _fields_of(entity_name: str):
    def handler(call: Call, params: Mapping) -> Reply:
        return Reply({f.name: f.describe() for f in call.store.entity(entity_name).fields})

    return handler


def _category_row(call: Call, params: Mapping) -> dict:
    entity_type(params, {2: "deal"})
    row = _row(call, "category", int_param(params, "id"))
    if row is None:
        raise RestError("NOT_FOUND", "Element not found")
    return row


def category_get(call: Call, params: Mapping) -> Reply:
    return Reply({"category": _category_row(call, params)})


def category_update(call: Call, params: Mapping) -> Reply:
    row = _category_row(call, params)
    fields = param(params, "fields")
    if not isinstance(fields, Mapping):
        raise RestError("INVALID_ARG_VALUE", "Parameter 'fields' must be array.")
    changes = {}
    if "name" in fields:
        if not str(fields["name"] or "").strip():
            raise RestError("INVALID_ARG_VALUE", "Field 'name' is required")
        changes["name"] = str(fields["name"])
    if "sort" in fields:
        changes["sort"] = int_param(fields, "sort") or 500
    call.store.update_category(row["id"], changes)
    return category_get(call, params)


def category_delete(call: Call, params: Mapping) -> Reply:
    row = _category_row(call, params)
    if row["isDefault"] == "Y":
        raise RestError("0", "Default deal category cannot be deleted")
    if call.store.category_in_use(row["id"]):
        raise RestError("0", f"Deals related to the funnel {row['name']} found")
    call.store.delete_category(row["id"])
    return Reply(None)


def category_list(call: Call, params: Mapping) -> Reply:
    entity_type(params, {2: "deal"})
    entity = call.store.entity("category")
    store = call.store
    where, args = build_where(entity, param(params, "filter"), store.clock)
    order_sql = build_order(entity, param(params, "order") or {"sort": "ASC"})
    cols_sql, encode = row_encoder(resolve_select(entity, ["*"]), store.clock)
    rows = [encode(r) for r in store.select(entity, cols_sql, where, args, order_sql)]
    call.rows_returned("crm.category.list", len(rows))
    return Reply({"categories": rows}, len(rows))


def category_add(call: Call, params: Mapping) -> Reply:
    """A new deal funnel with the default stages, prefixed `C<id>:` as a portal names them."""
    entity_type(params, {2: "deal"})
    fields = param(params, "fields")
    if not isinstance(fields, Mapping) or not str(fields.get("name") or "").strip():
        raise RestError("INVALID_ARG_VALUE", "Field 'name' is required")
    store = call.store
    category_id = store.next_category_id()
    sort = int(str(fields.get("sort") or 500))
    store.add_category(category_id, str(fields["name"]), sort, is_default=False)
    for code, name, stage_sort, semantics in DEFAULT_DEAL_STAGES:
        store.add_status(
            {
                "ENTITY_ID": f"DEAL_STAGE_{category_id}",
                "STATUS_ID": f"C{category_id}:{code}",
                "NAME": name,
                "SORT": stage_sort,
                "SEMANTICS": semantics,
                "SYSTEM": "Y",
            }
        )
    return Reply({"category": _row(call, "category", category_id)})


METHODS: dict[str, Callable[[Call, Mapping], Reply]] = {
    "crm.stagehistory.list": stagehistory_list,
    "crm.status.list": status_list,
    "crm.status.add": status_add,
    "crm.status.get": status_get,
    "crm.status.fields": _fields_of("status"),
    "crm.status.update": status_update,
    "crm.status.delete": status_delete,
    "crm.category.list": category_list,
    "crm.category.add": category_add,
    "crm.category.get": category_get,
    "crm.category.fields": _fields_of("category"),
    "crm.category.update": category_update,
    "crm.category.delete": category_delete,
}
