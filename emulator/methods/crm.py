"""REST methods of the emulated portal's CRM records: `crm.lead/deal/contact/company.*`. Each
handler takes the call's parameters and returns a `Reply` (result plus `total`/`next`) or
raises `RestError` (see `calls.py`); the envelope, auth, limits and batch live in
`emulator.portal.portal` and `emulator.http.app`; the dictionaries in `dictionaries.py`.

API facts relied on (docs/bitrix24-api.md §2, §5–7):
- list pages are always 50 rows; legacy methods floor `start` to a multiple of 50; `next` is
  present only when a later page exists; `start=-1` skips the count: `total` 0 and no `next`;
- top-level parameter names are case-insensitive (`filter`, `FILTER`, `Filter`, `arFilter`);
- method-level CRM errors carry an empty code: `{"error": "", "error_description": "Not found"}`;
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
from emulator.store.encoding import resolve_select, row_encoder
from emulator.store.store import NotFound

# -- crm.lead.* / crm.deal.* / crm.contact.* / crm.company.* -------------------------------------

# Records with stages and a recycle bin (`Records`); contacts and companies have neither.
_FUNNELLED = ("lead", "deal")


def _crm_list(kind: str, default_order: Mapping | None):
    def handler(call: Call, params: Mapping) -> Reply:
        rows, total, nxt = list_page(
            call,
            f"crm.{kind}.list",
            call.store.entity(kind),
            array_param(params, "filter"),
            array_param(params, "order") or default_order,
            param(params, "select"),
            start_of(params),
        )
        return Reply(rows, total, nxt)

    return handler


def record_id(params: Mapping) -> int:
    rid = int_param(params, "id")
    if rid is None or rid <= 0:
        raise RestError("", "ID is not defined or invalid")
    return rid


def _crm_get(kind: str):
    def handler(call: Call, params: Mapping) -> Reply:
        rid = record_id(params)
        entity = call.store.entity(kind)
        columns = resolve_select(entity, [f.name for f in entity.fields] + ["UF_*"])
        cols_sql, encode = row_encoder(columns, call.store.clock)
        rows = call.store.select(entity, cols_sql, '"ID" = ?', [rid], "")
        if not rows:
            raise RestError("", "Not found")
        record = encode(rows[0])
        for f in entity.fields:
            if f.multiple and not record.get(f.name):
                record.pop(f.name, None)
        call.rows_returned(f"crm.{kind}.get", 1)
        return Reply(record)

    return handler


def _crm_fields(kind: str):
    def handler(call: Call, params: Mapping) -> Reply:
        out = {f.name: f.describe() for f in call.store.entity(kind).fields}
        for name, uf_type, title in call.store.userfields(kind):
            out[name] = {
                "type": uf_type,
                "isRequired": False,
                "isReadOnly": False,
                "isImmutable": False,
                "isMultiple": False,
                "isDynamic": True,
                "title": name,
                "listLabel": title,
                "formLabel": title,
                "filterLabel": title,
            }
        return Reply(out)

    return handler


def _write_fields(params: Mapping) -> Mapping:
    """`fields` (required) and `params` (optional) of an add or update must be arrays."""
    array_param(params, "params")
    fields = array_param(params, "fields")
    if fields is None:
        raise RestError("", "Parameter 'fields' must be array.")
    return fields


def _crm_add(kind: str):
    def handler(call: Call, params: Mapping) -> Reply:
        fields = _write_fields(params)
        add = call.store.add_crm if kind in _FUNNELLED else call.store.add_record
        try:
            return Reply(add(kind, fields, call.user_id))
        except ValueError as exc:
            raise RestError("", str(exc)) from None

    return handler


def _crm_update(kind: str):
    def handler(call: Call, params: Mapping) -> Reply:
        rid = record_id(params)
        fields = _write_fields(params)
        update = call.store.update_crm if kind in _FUNNELLED else call.store.update_record
        try:
            update(kind, rid, fields, call.user_id)
        except NotFound:
            raise RestError("", "Not found") from None
        except ValueError as exc:
            raise RestError("", str(exc)) from None
        return Reply(True)

    return handler


def _crm_delete(kind: str):
    def handler(call: Call, params: Mapping) -> Reply:
        rid = record_id(params)
        delete = call.store.delete_crm if kind in _FUNNELLED else call.store.delete_record
        try:
            delete(kind, rid)
        except NotFound:
            raise RestError("", "Not found") from None
        return Reply(True)

    return handler


METHODS: dict[str, Callable[[Call, Mapping], Reply]] = {}


def crud_methods(kind: str, default_order: Mapping | None = None) -> dict:
    """`crm.<kind>.list/get/fields/add/update/delete`, the legacy CRUD, over the store's
    `kind` (`default_order`: the list's order when the call gives none; else by ID)."""
    return {
        f"crm.{kind}.list": _crm_list(kind, default_order),
        f"crm.{kind}.get": _crm_get(kind),
        f"crm.{kind}.fields": _crm_fields(kind),
        f"crm.{kind}.add": _crm_add(kind),
        f"crm.{kind}.update": _crm_update(kind),
        f"crm.{kind}.delete": _crm_delete(kind),
    }


for _kind in ("lead", "deal", "contact", "company"):
    METHODS.update(crud_methods(_kind))
