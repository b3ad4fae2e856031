"""The store's records without a funnel: contacts and companies (the customers behind leads and
deals), activities (calls, chats, e-mails bound to a record) and product rows (what a deal or
lead sells). A part of `Store`, as `Records` is for leads and deals.

What a portal does on these writes, and this store does too:
- contacts and companies get `DATE_CREATE`/`DATE_MODIFY`/`CREATED_BY_ID`/`MODIFY_BY_ID` from the
  clock and the caller, activities `CREATED`/`LAST_UPDATED`/`AUTHOR_ID`/`EDITOR_ID`; an activity
  must name an existing owner (`OWNER_TYPE_ID` 1 lead, 2 deal, 3 contact, 4 company), and one
  marked `COMPLETED = Y` has `STATUS` 2 (completed);
- `crm.deal.productrows.set` replaces a record's rows; unless the amount was typed by hand
  (`IS_MANUAL_OPPORTUNITY = Y`) the record's `OPPORTUNITY` becomes Σ price × quantity, and the
  record is updated, so its `DATE_MODIFY` moves and an incremental reader finds the new rows
  through it [inferred from the product-row docs: the deal form saves rows and amount together].
"""

from collections.abc import Mapping, Sequence

from emulator.store.records import NotFound
from emulator.store.values import contact_flags, normalize

# The record's own timestamps and authors: (created, modified, created by, modified by).
STAMPS = {
    "contact": ("DATE_CREATE", "DATE_MODIFY", "CREATED_BY_ID", "MODIFY_BY_ID"),
    "company": ("DATE_CREATE", "DATE_MODIFY", "CREATED_BY_ID", "MODIFY_BY_ID"),
    "activity": ("CREATED", "LAST_UPDATED", "AUTHOR_ID", "EDITOR_ID"),
}
OWNER_TYPES = {1: "lead", 2: "deal", 3: "contact", 4: "company"}
PRODUCT_OWNERS = {"D": "deal", "L": "lead"}
ACTIVITY_COMPLETED, ACTIVITY_WAITING = 2, 1


class Relations:
    """Mixed into `Store`: needs its `db`, `clock`, `entities`, `exists()`, `_insert()`,
    `_update()` and the records' `get_crm()` / `update_crm()`."""

    def add_record(self, entity_name: str, fields: Mapping, user_id: int, now=None) -> int:
        row = normalize(self.entities[entity_name], fields, self.clock, creating=True)
        ts = int(self.clock.now() if now is None else now)
        created, modified, author, editor = STAMPS[entity_name]
        row.update({created: ts, modified: ts, author: user_id, editor: user_id})
        if entity_name == "activity":
            self._check_owner(row)
            row.setdefault("RESPONSIBLE_ID", user_id)
            row.setdefault("START_TIME", ts)
            row.setdefault("PRIORITY", 2)
            row.setdefault("COMPLETED", "N")
            row["STATUS"] = ACTIVITY_COMPLETED if row["COMPLETED"] == "Y" else ACTIVITY_WAITING
        else:
            row.setdefault("ASSIGNED_BY_ID", user_id)
            row.setdefault("OPENED", "Y")
            contact_flags(row)
        return self._insert(entity_name, row)

    def update_record(
        self, entity_name: str, record_id: int, fields: Mapping, user_id: int, now=None
    ) -> None:
        entity = self.entities[entity_name]
        current = self.get_crm(entity_name, record_id)
        changes = normalize(entity, fields, self.clock, creating=False)
        _, modified, _, editor = STAMPS[entity_name]
        changes.update({modified: int(self.clock.now() if now is None else now), editor: user_id})
        if entity_name == "activity":
            changes.pop("OWNER_ID", None)
            changes.pop("OWNER_TYPE_ID", None)
            if "COMPLETED" in changes:
                done = changes["COMPLETED"] == "Y"
                changes["STATUS"] = ACTIVITY_COMPLETED if done else ACTIVITY_WAITING
        else:
            merged = {**current, **changes}
            contact_flags(merged)
            changes.update(HAS_PHONE=merged["HAS_PHONE"], HAS_EMAIL=merged["HAS_EMAIL"])
        self._update(entity_name, record_id, changes)

    def delete_record(self, entity_name: str, record_id: int) -> None:
        table = self.entities[entity_name].table
        if self.db.execute(f'DELETE FROM "{table}" WHERE "ID" = ?', (record_id,)).rowcount == 0:
            raise NotFound(record_id)

    def _check_owner(self, row: Mapping) -> None:
        kind = OWNER_TYPES.get(row.get("OWNER_TYPE_ID"))
        if kind is None or not row.get("OWNER_ID") or not self.exists(kind, row["OWNER_ID"]):
            raise ValueError("The activity owner is not found.")
        if not row.get("TYPE_ID"):
            raise ValueError("The field TYPE_ID is required.")

    # -- product rows -----------------------------------------------------------------------
    def set_product_rows(
        self, owner_type: str, owner_id: int, rows: Sequence[Mapping], user_id: int, now=None
    ) -> None:
        kind = PRODUCT_OWNERS[owner_type]
        current = self.get_crm(kind, owner_id)  # NotFound for a missing owner
        entity = self.entities["product_row"]
        stored = []
        for i, fields in enumerate(rows, start=1):
            if not isinstance(fields, Mapping):
                raise ValueError("Each product row must be an array.")
            row = normalize(entity, fields, self.clock, creating=True)
            row.setdefault("QUANTITY", 1.0)
            row.setdefault("PRICE", 0.0)
            row.setdefault("SORT", 10 * i)
            row.setdefault("TAX_INCLUDED", "N")
            row.setdefault("MEASURE_CODE", 796)
            row.setdefault("MEASURE_NAME", "шт")
            row.update(OWNER_TYPE=owner_type, OWNER_ID=owner_id)
            stored.append(row)
        self.db.execute(
            "DELETE FROM product_rows WHERE OWNER_TYPE = ? AND OWNER_ID = ?", (owner_type, owner_id)
        )
        for row in stored:
            self._insert("product_row", row)
        fields = {}
        if current.get("IS_MANUAL_OPPORTUNITY") != "Y":
            fields["OPPORTUNITY"] = round(sum(r["PRICE"] * r["QUANTITY"] for r in stored), 2)
        self.update_crm(kind, owner_id, fields, user_id, now=now)

