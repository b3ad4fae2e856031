"""REST methods for what hangs on leads and deals: a deal's contacts, activities (calls, chats,
e-mails) and product rows. `crm.contact.*`, `crm.company.*` and `crm.activity.*` are the legacy
CRUD of `emulator.methods.crm`, over the store's `Relations`.

API facts relied on (b24restdocs `api-reference/crm/`):
- `crm.deal.contact.items.get {id}` → `[{CONTACT_ID, SORT, ROLE_ID, IS_PRIMARY}]` with native
  integers, the first contact primary (`deals/contacts/crm-deal-contact-items-get.md`);
  `crm.deal.contact.add {id, fields: {CONTACT_ID, IS_PRIMARY}}` links one more (true; false when
  it was linked already), `crm.deal.contact.fields` describes the link
  (`deals/contacts/crm-deal-contact-add.md`, `crm-deal-contact-fields.md`);
- `crm.activity.list` pages like the legacy lists, default order `START_TIME` ascending, every
  value a string (`timeline/activities/activity-base/crm-activity-list.md`); `crm.activity.add`
  answers the new ID; an unknown owner is refused;
- `crm.deal.productrows.get {id}` answers every row, unpaged, IDs as strings and prices as
  numbers; `crm.deal.productrows.set {id, rows}` replaces them (`deals/crm-deal-productrows-*.md`);
- `crm.item.productrow.list` answers `{"productRows": [...]}` in camelCase with 50-row pages, and
  its filter must hold `=ownerType` and `=ownerId` (an array is allowed), else error `100`
  "Required parameters not provided" (`universal/product-rows/crm-item-productrow-list.md`).
"""

from collections.abc import Callable, Mapping

import orjson

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
from emulator.methods.crm import crud_methods, record_id
from emulator.methods.items import camel, camel_filter, camel_order
from emulator.store.encoding import resolve_select, row_encoder
from emulator.store.party_fields import DEAL_CONTACT_FIELDS
from emulator.store.store import NotFound


def deal_contact_items_get(call: Call, params: Mapping) -> Reply:
    try:
        deal = call.store.get_crm("deal", record_id(params))
    except NotFound:
        raise RestError("", "Not found") from None
    ids = orjson.loads(deal.get("CONTACT_IDS") or "[]")
    return Reply(
        [
            {"CONTACT_ID": cid, "SORT": 10 * (i + 1), "ROLE_ID": 0,
             "IS_PRIMARY": "Y" if not i else "N"}
            for i, cid in enumerate(ids)
        ]
    )


def deal_contact_add(call: Call, params: Mapping) -> Reply:
    deal_id = record_id(params)
    fields = array_param(params, "fields") or {}
    contact = int_param(fields, "CONTACT_ID")
    if not contact or not call.store.exists("contact", contact):
        raise RestError("", "The field CONTACT_ID is required and must name a contact.")
    try:
        deal = call.store.get_crm("deal", deal_id)
    except NotFound:
        raise RestError("", "Not found") from None
    ids = orjson.loads(deal.get("CONTACT_IDS") or "[]")
    if contact in ids:
        return Reply(False)
    primary = str(fields.get("IS_PRIMARY", "N")).upper() == "Y"
    ids = [contact, *ids] if primary else [*ids, contact]
    call.store.update_crm("deal", deal_id, {"CONTACT_IDS": ids}, call.user_id)
    return Reply(True)


def deal_contact_fields(call: Call, params: Mapping) -> Reply:
    return Reply({f.name: f.describe() for f in DEAL_CONTACT_FIELDS})


# -- product rows -------------------------------------------------------------------------------


def _productrows_get(owner_type: str, kind: str):
    def handler(call: Call, params: Mapping) -> Reply:
        owner_id = record_id(params)
        if not call.store.exists(kind, owner_id):
            raise RestError("", "Not found")
        entity = call.store.entity("product_row")
        cols_sql, encode = row_encoder(resolve_select(entity, ["*"]), call.store.clock)
        found = call.store.select(entity, cols_sql, "OWNER_TYPE = ? AND OWNER_ID = ?",
                                  [owner_type, owner_id], 'ORDER BY SORT, "ID"')
        rows = [encode(r) for r in found]
        call.rows_returned(f"crm.{kind}.productrows.get", len(rows))
        return Reply(rows)

    return handler


def _productrows_set(owner_type: str):
    def handler(call: Call, params: Mapping) -> Reply:
        rows = array_param(params, "rows")
        try:
            call.store.set_product_rows(
                owner_type, record_id(params), list((rows or {}).values()), call.user_id
            )
        except NotFound:
            raise RestError("", "Not found") from None
        except ValueError as exc:
            raise RestError("", str(exc)) from None
        return Reply(True)

    return handler


def item_productrow_list(call: Call, params: Mapping) -> Reply:
    flt = param(params, "filter")
    if not isinstance(flt, Mapping) or not {"=ownerType", "=ownerId"} <= set(map(str, flt)):
        raise RestError("100", "Required parameters not provided")
    entity = call.store.entity("product_row")
    legacy = camel_filter(entity, flt)
    order = camel_order(entity, param(params, "order")) or None

    def encode_row(row: dict) -> dict:
        return {camel(k): (int(v) if k in ("ID", "OWNER_ID") else v) for k, v in row.items()}

    rows, total, nxt = list_page(
        call, "crm.item.productrow.list", entity, legacy, order, ["*"], start_of(params),
        encode_row=encode_row, strict=True,
    )
    return Reply({"productRows": rows}, total, nxt)


METHODS: dict[str, Callable[[Call, Mapping], Reply]] = {
    **crud_methods("activity", default_order={"START_TIME": "ASC"}),
    "crm.deal.contact.items.get": deal_contact_items_get,
    "crm.deal.contact.add": deal_contact_add,
    "crm.deal.contact.fields": deal_contact_fields,
    "crm.deal.productrows.get": _productrows_get("D", "deal"),
    "crm.deal.productrows.set": _productrows_set("D"),
    "crm.lead.productrows.get": _productrows_get("L", "lead"),
    "crm.lead.productrows.set": _productrows_set("L"),
    "crm.item.productrow.list": item_productrow_list,
}
