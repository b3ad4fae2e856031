"""`crm.item.*` for leads (entityTypeId 1) and deals (2): the universal CRM methods that the
official docs recommend over the deprecated `crm.lead.*` / `crm.deal.*`, over the same store.

API facts relied on (docs/bitrix24-api.md §2.2, §5; `api-reference/crm/universal/crm-item-*.md`):
- field names are camelCase (`stageId`, `assignedById`, `createdTime`, `ufCrmCarBrand`), and the
  legacy names map onto them with a few exceptions (`STATUS_ID` → `stageId` for leads,
  `DATE_MODIFY` → `updatedTime`, `CREATED_BY_ID` → `createdBy`, …);
- integers come back as JSON numbers, `opportunity` as a number, flags as `"Y"`/`"N"`, empty
  dates as `null`; answers are `{"item": {...}}` (add, get, update), `{"items": [...]}` with
  `total`/`next` (list) and `[]` (delete);
- `crm.item.add` / `update` of a deal take `leadId` (read-only in `crm.deal.*`) and, on update,
  `categoryId` + `stageId`: the only way to move a deal to another funnel (stage-history
  TYPE_ID 5); an unknown field in `fields` is ignored;
- a filter on a field the type does not have fails with `INVALID_ARG_VALUE`
  ("Invalid filter: field 'X' is not allowed in filter"); a missing item is `NOT_FOUND`.

Not modelled: multifields (`fm`), `contactIds`, `parentId…`, observers, `logic: OR` filters.
"""

from collections.abc import Mapping

from emulator.methods.calls import Call, Reply, RestError, entity_type, list_page, param, start_of
from emulator.store.fields import DATE, DATETIME, INT, MONEY, Field
from emulator.store.query import Entity, split_key
from emulator.store.store import NotFound

ENTITY_TYPES = {1: "lead", 2: "deal"}
# Legacy names whose camelCase name is not simply their words joined.
_RENAMED = {
    "STATUS_ID": "stageId",
    "STATUS_SEMANTIC_ID": "stageSemanticId",
    "CREATED_BY_ID": "createdBy",
    "MODIFY_BY_ID": "updatedBy",
    "MOVED_BY_ID": "movedBy",
    "DATE_CREATE": "createdTime",
    "DATE_MODIFY": "updatedTime",
    "MOVED_TIME": "movedTime",
}
# Fields `crm.item.*` writes that `crm.lead.*` / `crm.deal.*` treat as read-only.
_LINKS = {"leadId": "LEAD_ID"}


def camel(name: str) -> str:
    """`UTM_SOURCE` → `utmSource`, `UF_CRM_CAR_BRAND` → `ufCrmCarBrand`, `ID` → `id`."""
    if name in _RENAMED:
        return _RENAMED[name]
    head, *rest = name.lower().split("_")
    return head + "".join(word.capitalize() for word in rest)


def _fields(entity: Entity) -> list[Field]:
    return [f for f in entity.fields if not f.multiple]


def _names(entity: Entity) -> dict[str, str]:
    """camelCase → legacy name, for every standard and custom field of the entity."""
    out = {camel(f.name): f.name for f in _fields(entity)}
    out.update({camel(uf): uf for uf in entity.custom})
    return out


def _entity(call: Call, params: Mapping) -> tuple[str, Entity]:
    kind = entity_type(params, ENTITY_TYPES)
    return kind, call.store.entity(kind)


def _item_id(params: Mapping) -> int:
    try:
        item_id = int(str(param(params, "id")))
    except (TypeError, ValueError):
        item_id = 0
    if item_id <= 0:
        raise RestError("NOT_FOUND", "Element not found")
    return item_id


def _legacy_fields(entity: Entity, fields) -> tuple[dict, dict, int | None]:
    """Client camelCase `fields` → (legacy fields, links, new funnel); unknown names dropped."""
    if not isinstance(fields, Mapping):
        raise RestError("INVALID_ARG_VALUE", "Parameter 'fields' must be an object")
    names = _names(entity)
    legacy, links, category = {}, {}, None
    for key, value in fields.items():
        key = str(key)
        if key in _LINKS:
            links[_LINKS[key]] = value
        elif key == "categoryId" and entity.table == "deals":
            category = int(str(value or 0))
        elif key in names:
            legacy[names[key]] = value
        elif key.upper() in entity.custom:  # useOriginalUfNames style
            legacy[key.upper()] = value
    return legacy, links, category


def _encoder(entity: Entity):
    """Legacy wire values of a row → the item's: numbers as numbers, empty dates as null."""
    kinds = {f.name: f.kind for f in _fields(entity)}

    def encode(row: dict) -> dict:
        item = {}
        for name, value in row.items():
            kind = kinds.get(name)
            if kind in (DATETIME, DATE) and value == "":
                value = None
            elif kind == INT and value not in (None, ""):
                value = int(value)
            elif kind == MONEY and value not in (None, ""):
                value = float(value)
            item[camel(name)] = value
        return item

    return encode


def _select(entity: Entity, select) -> list[str]:
    if not select or select == ["*"] or select == "*":
        return ["*", "UF_*"]
    names = _names(entity)
    wanted = [select] if isinstance(select, str) else list(select)
    return [s if s in ("*", "UF_*") else names.get(str(s), str(s)) for s in wanted]


def camel_filter(entity: Entity, flt) -> dict:
    """A camelCase filter → legacy field names; an unknown field is `INVALID_ARG_VALUE`."""
    if not isinstance(flt, Mapping):
        return {}
    names = _names(entity)
    out = {}
    for key, value in flt.items():
        _, name = split_key(str(key))
        legacy = names.get(name)
        if legacy is None:
            raise RestError(
                "INVALID_ARG_VALUE", f"Invalid filter: field '{name}' is not allowed in filter"
            )
        out[str(key)[: len(str(key)) - len(name)] + legacy] = value
    return out


def camel_order(entity: Entity, order) -> dict:
    """A camelCase order → legacy field names; a direction other than ASC/DESC is refused."""
    if not isinstance(order, Mapping):
        return {}
    names = _names(entity)
    out = {}
    for key, direction in order.items():
        if str(direction).strip().upper() not in ("ASC", "DESC"):
            raise RestError(
                "INVALID_ARG_VALUE",
                f"Invalid order: allowed sort directions are ASC, DESC. But got {direction}",
            )
        out[names.get(str(key), str(key))] = direction
    return out


def _get(call: Call, entity: Entity, item_id: int) -> dict:
    rows, _, _ = list_page(call, "crm.item.get", entity, {"ID": item_id}, None, None, -1)
    if not rows:
        raise RestError("NOT_FOUND", "Element not found")
    return _encoder(entity)(rows[0])


def item_list(call: Call, params: Mapping) -> Reply:
    _, entity = _entity(call, params)
    rows, total, nxt = list_page(
        call,
        "crm.item.list",
        entity,
        camel_filter(entity, param(params, "filter")),
        camel_order(entity, param(params, "order")),
        _select(entity, param(params, "select")),
        start_of(params),
        encode_row=_encoder(entity),
    )
    return Reply({"items": rows}, total, nxt)


def item_get(call: Call, params: Mapping) -> Reply:
    _, entity = _entity(call, params)
    return Reply({"item": _get(call, entity, _item_id(params))})


def item_add(call: Call, params: Mapping) -> Reply:
    kind, entity = _entity(call, params)
    legacy, links, category = _legacy_fields(entity, param(params, "fields"))
    if category is not None:
        legacy["CATEGORY_ID"] = category
    try:
        new_id = call.store.add_crm(kind, legacy, call.user_id, links=links)
    except ValueError as exc:
        raise RestError("INVALID_ARG_VALUE", str(exc)) from None
    return Reply({"item": _get(call, entity, new_id)})


def item_update(call: Call, params: Mapping) -> Reply:
    kind, entity = _entity(call, params)
    item_id = _item_id(params)
    legacy, links, category = _legacy_fields(entity, param(params, "fields"))
    try:
        call.store.update_crm(kind, item_id, legacy, call.user_id, links=links, category=category)
    except NotFound:
        raise RestError("NOT_FOUND", "Element not found") from None
    except ValueError as exc:
        raise RestError("INVALID_ARG_VALUE", str(exc)) from None
    return Reply({"item": _get(call, entity, item_id)})


def item_delete(call: Call, params: Mapping) -> Reply:
    kind, _ = _entity(call, params)
    try:
        call.store.delete_crm(kind, _item_id(params))
    except NotFound:
        raise RestError("NOT_FOUND", "Element not found") from None
    return Reply([])


def item_fields(call: Call, params: Mapping) -> Reply:
    _, entity = _entity(call, params)
    fields = {camel(f.name): f.describe() for f in _fields(entity)}
    if entity.table == "deals":
        fields["leadId"]["isReadOnly"] = False
    for uf, kind in entity.custom.items():
        fields[camel(uf)] = {
            "type": kind,
            "isRequired": False,
            "isReadOnly": False,
            "isImmutable": False,
            "isMultiple": False,
            "isDynamic": True,
            "title": uf,
            "upperName": uf,
        }
    return Reply({"fields": fields})


METHODS = {
    "crm.item.list": item_list,
    "crm.item.get": item_get,
    "crm.item.add": item_add,
    "crm.item.update": item_update,
    "crm.item.delete": item_delete,
    "crm.item.fields": item_fields,
}
