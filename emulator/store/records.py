"""The store's CRM records: what a portal does when a lead or deal is created, updated, deleted
or restored (the rules are in `store.py`'s docstring). A part of `Store`, apart from its reads."""

from collections.abc import Mapping

from emulator.store.values import lead_flags, normalize

# Stage-history record types (crm.stagehistory.list TYPE_ID).
HISTORY_CREATED, HISTORY_MOVED, HISTORY_FINAL, HISTORY_FUNNEL = 1, 2, 3, 5


class NotFound(Exception):
    pass


class Records:
    """Mixed into `Store`: needs its `db`, `clock`, `entities`, `get_crm()`, `exists()`,
    `_insert()`, `on_change` and the dictionaries' `first_stage()`, `semantic()`,
    `status_exists()` and `category_exists()`."""

    def stage_dictionary(self, entity_name: str, category_id: int | None) -> str:
        if entity_name == "lead":
            return "STATUS"
        return "DEAL_STAGE" if not category_id else f"DEAL_STAGE_{int(category_id)}"

    def add_crm(
        self,
        entity_name: str,
        fields: Mapping,
        user_id: int,
        now: float | None = None,
        links: Mapping | None = None,
    ):
        """`crm.lead.add` / `crm.deal.add` (and `crm.item.add`, whose `links` set the fields the
        legacy methods treat as read-only, such as a deal's LEAD_ID): returns the new ID."""
        e = self.entities[entity_name]
        ts = int(self.clock.now() if now is None else now)
        row = normalize(e, fields, self.clock, creating=True)
        row.update(self._links(entity_name, links))
        stage_field = "STATUS_ID" if entity_name == "lead" else "STAGE_ID"
        category = None
        if entity_name == "deal":
            category = int(row.get("CATEGORY_ID") or 0)
            if category and not self.category_exists(category):
                raise ValueError(f"Category with ID {category} is not found")
            row["CATEGORY_ID"] = category
        dictionary = self.stage_dictionary(entity_name, category)
        if not row.get(stage_field):
            row[stage_field] = self.first_stage(dictionary) or "NEW"
        semantic = self.semantic(dictionary, row[stage_field])
        row.update(
            DATE_CREATE=ts,
            DATE_MODIFY=ts,
            MOVED_TIME=ts,
            CREATED_BY_ID=user_id,
            MODIFY_BY_ID=user_id,
            MOVED_BY_ID=user_id,
        )
        row.setdefault("ASSIGNED_BY_ID", user_id)
        row.setdefault("OPENED", "Y")
        row.setdefault("CURRENCY_ID", "RUB")
        row.setdefault("OPPORTUNITY", "0.00")
        row.setdefault("IS_MANUAL_OPPORTUNITY", "N")
        row.update(self._stage_state(entity_name, dictionary, row[stage_field], semantic, ts))
        if entity_name == "lead":
            lead_flags(row)
        else:
            for flag in ("IS_RECURRING", "IS_RETURN_CUSTOMER", "IS_REPEATED_APPROACH"):
                row.setdefault(flag, "N")
            row.setdefault("TYPE_ID", "SALE")
            row.setdefault("PROBABILITY", None)
        new_id = self._insert(entity_name, row)
        self.add_history(
            entity_name, new_id, HISTORY_CREATED, ts, row[stage_field], semantic, category
        )
        self.on_change(entity_name, "ADD", new_id)
        return new_id

    def _stage_state(
        self, entity_name: str, dictionary: str, stage: str, semantic: str, ts: int
    ) -> dict:
        """The fields that follow a record's stage: its semantics and whether it is closed (a
        lead's DATE_CLOSED; a deal's CLOSED and IS_NEW, the funnel's first stage)."""
        closed = semantic in ("S", "F")
        if entity_name == "lead":
            return {"STATUS_SEMANTIC_ID": semantic, "DATE_CLOSED": ts if closed else None}
        return {
            "STAGE_SEMANTIC_ID": semantic,
            "CLOSED": "Y" if closed else "N",
            "IS_NEW": "Y" if stage == self.first_stage(dictionary) else "N",
        }

    def _links(self, entity_name: str, links: Mapping | None) -> dict:
        """LEAD_ID of a deal written by `crm.item.*`: an unknown lead is refused, as there."""
        out = {}
        lead = (links or {}).get("LEAD_ID")
        if entity_name == "deal" and lead not in (None, "", 0, "0"):
            lead_id = int(lead)
            if not self.exists("lead", lead_id):
                raise ValueError(f"Lead with ID {lead_id} is not found")
            out["LEAD_ID"] = lead_id
        return out

    def update_crm(
        self,
        entity_name: str,
        record_id: int,
        fields: Mapping,
        user_id: int,
        now: float | None = None,
        touch: bool = True,
        links: Mapping | None = None,
        category: int | None = None,
    ) -> None:
        """`crm.lead.update` / `crm.deal.update`. `touch=False` is an edit made behind the REST
        API (a database fix, a UTM import): DATE_MODIFY and MODIFY_BY_ID stay as they were.
        `crm.item.update` also passes `links` (see `add_crm`) and a deal's new funnel
        (`category`): the deal moves to the given stage of it, or to its first stage."""
        e = self.entities[entity_name]
        current = self.get_crm(entity_name, record_id)
        ts = int(self.clock.now() if now is None else now)
        changes = normalize(e, fields, self.clock, creating=False, current_uf=current.get("UF"))
        changes.update(self._links(entity_name, links))
        stage_field = "STATUS_ID" if entity_name == "lead" else "STAGE_ID"
        if touch:
            changes.update(DATE_MODIFY=ts, MODIFY_BY_ID=user_id)
        new_stage = changes.get(stage_field)
        old_category = current.get("CATEGORY_ID")
        if entity_name == "deal" and category is not None and category != old_category:
            if category and not self.category_exists(category):
                raise ValueError(f"Category with ID {category} is not found")
            dictionary = self.stage_dictionary(entity_name, category)
            if new_stage is None or not self.status_exists(dictionary, new_stage):
                new_stage = self.first_stage(dictionary) or "NEW"
            semantic = self.semantic(dictionary, new_stage)
            changes.update(
                self._stage_state(entity_name, dictionary, new_stage, semantic, ts),
                CATEGORY_ID=category,
                STAGE_ID=new_stage,
                MOVED_TIME=ts,
                MOVED_BY_ID=user_id,
            )
            self.add_history(
                entity_name, record_id, HISTORY_FUNNEL, ts, new_stage, semantic, category
            )
        elif new_stage is not None and new_stage != current[stage_field]:
            dictionary = self.stage_dictionary(entity_name, old_category)
            semantic = self.semantic(dictionary, new_stage)
            changes.update(
                self._stage_state(entity_name, dictionary, new_stage, semantic, ts),
                MOVED_TIME=ts,
                MOVED_BY_ID=user_id,
            )
            kind = HISTORY_FINAL if semantic in ("S", "F") else HISTORY_MOVED
            self.add_history(entity_name, record_id, kind, ts, new_stage, semantic, old_category)
        else:
            changes.pop(stage_field, None)
        if entity_name == "lead":
            merged = {**current, **changes}
            lead_flags(merged)
            for flag in ("HAS_PHONE", "HAS_EMAIL", "IS_RETURN_CUSTOMER"):
                changes[flag] = merged[flag]
        sets = ", ".join(f'"{c}" = ?' if c != "UF" else "UF = ?" for c in changes)
        self.db.execute(
            f'UPDATE "{e.table}" SET {sets} WHERE "ID" = ?', [*changes.values(), record_id]
        )
        if touch:  # a portal announces changes made through it, not repairs behind it
            self.on_change(entity_name, "UPDATE", record_id)

    def delete_crm(self, entity_name: str, record_id: int) -> None:
        """Into the recycle bin: gone from every list, restorable by `restore_crm`."""
        self._move(entity_name, record_id, "", "recycle_")
        self.on_change(entity_name, "DELETE", record_id)

    def restore_crm(self, entity_name: str, record_id: int) -> None:
        """Out of the recycle bin, as it was deleted: same ID, fields and stage history."""
        self._move(entity_name, record_id, "recycle_", "")

    def _move(self, entity_name: str, record_id: int, source: str, target: str) -> None:
        """Move a record with what hangs on it (stage history, activities, product rows)."""
        table = self.entities[entity_name].table
        moved = self.db.execute(
            f'INSERT INTO "{target}{table}" SELECT * FROM "{source}{table}" WHERE "ID" = ?',
            (record_id,),
        )
        if moved.rowcount == 0:
            raise NotFound(record_id)
        self.db.execute(f'DELETE FROM "{source}{table}" WHERE "ID" = ?', (record_id,))
        owner_type = {"lead": (1, "L"), "deal": (2, "D")}[entity_name]
        for dependent, where, args in (
            (f"{entity_name}_history", "OWNER_ID = ?", (record_id,)),
            ("activities", "OWNER_TYPE_ID = ? AND OWNER_ID = ?", (owner_type[0], record_id)),
            ("product_rows", "OWNER_TYPE = ? AND OWNER_ID = ?", (owner_type[1], record_id)),
        ):
            self.db.execute(
                f'INSERT INTO "{target}{dependent}" SELECT * FROM "{source}{dependent}"'
                f" WHERE {where}",
                args,
            )
            self.db.execute(f'DELETE FROM "{source}{dependent}" WHERE {where}', args)

    def add_history(
        self,
        entity_name: str,
        owner_id: int,
        type_id: int,
        ts: int,
        stage: str,
        semantic: str,
        category: int | None,
    ) -> None:
        if entity_name == "lead":
            self.db.execute(
                "INSERT INTO lead_history (TYPE_ID, OWNER_ID, CREATED_TIME, STATUS_ID,"
                " STATUS_SEMANTIC_ID) VALUES (?, ?, ?, ?, ?)",
                (type_id, owner_id, ts, stage, semantic),
            )
        else:
            self.db.execute(
                "INSERT INTO deal_history (TYPE_ID, OWNER_ID, CREATED_TIME, CATEGORY_ID, STAGE_ID,"
                " STAGE_SEMANTIC_ID) VALUES (?, ?, ?, ?, ?, ?)",
                (type_id, owner_id, ts, category or 0, stage, semantic),
            )
