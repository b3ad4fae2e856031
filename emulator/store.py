"""The portal's data: an indexed SQLite database and the server-side effects of writes.

What a real portal does on a write, and this store does too (reference §5, §6, §8):
- `DATE_CREATE`, `DATE_MODIFY`, `MOVED_TIME` come from the portal clock; `CREATED_BY_ID`,
  `MODIFY_BY_ID`, `MOVED_BY_ID` from the calling user; read-only and unknown fields are dropped;
- the stage's semantic ID (`P`/`S`/`F`) follows the status dictionary of the entity (leads:
  `STATUS`; deals: `DEAL_STAGE` for funnel 0, `DEAL_STAGE_<n>` with stage prefix `C<n>:` for
  the others);
- every create writes a stage-history row with TYPE_ID 1, every stage move one with TYPE_ID 2
  (in-progress stage) or 3 (final stage), a funnel change (`crm.item.update` with `categoryId`)
  one with TYPE_ID 5 in the new funnel;
- a delete removes the record and its stage history from every list and leaves no tombstone; the
  portal keeps them in its recycle bin (Корзина), from which a user can restore the record with its
  ID, fields and history unchanged (DATE_MODIFY included, so only an ID comparison sees it back).

SQLite rather than DuckDB: the emulator's work is point writes plus indexed keyset reads of 50 rows,
which SQLite does in microseconds, and it ships with Python.
"""

import sqlite3
from collections.abc import Iterable, Mapping, Sequence

from .clock import PortalClock
from .fields import (
    CATEGORY_FIELDS,
    DEAL_FIELDS,
    DEAL_HISTORY_FIELDS,
    DEPARTMENT_FIELDS,
    LEAD_FIELDS,
    LEAD_HISTORY_FIELDS,
    STATUS_FIELDS,
    USER_FIELDS,
)
from .query import Entity, sql_like
from .store_dictionaries import Dictionaries
from .values import lead_flags, normalize

# Stage-history record types (crm.stagehistory.list TYPE_ID).
HISTORY_CREATED, HISTORY_MOVED, HISTORY_FINAL, HISTORY_FUNNEL = 1, 2, 3, 5

_INDEXES = {
    "leads": ("DATE_MODIFY", "DATE_CREATE", "STATUS_ID", "ASSIGNED_BY_ID"),
    "deals": ("DATE_MODIFY", "DATE_CREATE", "STAGE_ID", "CATEGORY_ID", "LEAD_ID", "ASSIGNED_BY_ID"),
    "lead_history": ("OWNER_ID", "CREATED_TIME"),
    "deal_history": ("OWNER_ID", "CREATED_TIME"),
    "statuses": ("ENTITY_ID",),
}


class NotFound(Exception):
    pass


class Store(Dictionaries):
    def __init__(self, clock: PortalClock, path: str = ":memory:") -> None:
        self.clock = clock
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute(
            "PRAGMA journal_mode=OFF" if path == ":memory:" else "PRAGMA journal_mode=WAL"
        )
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.create_function("bx_like", 2, sql_like, deterministic=True)
        self.db.create_function("bx_datetime", 1, clock.format, deterministic=True)
        self.entities = {
            "lead": Entity("leads", LEAD_FIELDS, has_custom=True),
            "deal": Entity("deals", DEAL_FIELDS, has_custom=True),
            "lead_history": Entity("lead_history", LEAD_HISTORY_FIELDS),
            "deal_history": Entity("deal_history", DEAL_HISTORY_FIELDS),
            "status": Entity("statuses", STATUS_FIELDS),
            "user": Entity("users", USER_FIELDS),
            "department": Entity("departments", DEPARTMENT_FIELDS),
            "category": Entity("categories", CATEGORY_FIELDS, id_field="id"),
        }
        self._semantics: dict[tuple[str, str], str] = {}
        self.create_schema()

    # -- schema ------------------------------------------------------------------------------
    def create_schema(self) -> None:
        cur = self.db.cursor()
        for entity in self.entities.values():
            cur.execute(f'DROP TABLE IF EXISTS "{entity.table}"')
            cols = []
            for f in entity.fields:
                # AUTOINCREMENT: a portal (MySQL auto-increment) never reuses the ID of a
                # deleted record, and the history keyset cursor depends on it.
                pk = " PRIMARY KEY AUTOINCREMENT" if f.name == entity.id_field else ""
                cols.append(f'"{f.name}" {f.sql_type}{pk}')
            if entity.has_custom:
                cols.append("UF TEXT")
            cur.execute(f'CREATE TABLE "{entity.table}" ({", ".join(cols)})')
            for col in _INDEXES.get(entity.table, ()):
                cur.execute(f'CREATE INDEX "ix_{entity.table}_{col}" ON "{entity.table}" ("{col}")')
            entity.custom.clear()
        for table in ("leads", "deals", "lead_history", "deal_history"):
            cur.execute(f'DROP TABLE IF EXISTS "recycle_{table}"')
            cur.execute(f'CREATE TABLE "recycle_{table}" AS SELECT * FROM "{table}" WHERE 0')
        cur.execute("DROP TABLE IF EXISTS userfields")
        cur.execute(
            "CREATE TABLE userfields (ENTITY TEXT, FIELD_NAME TEXT, TYPE TEXT, TITLE TEXT,"
            " PRIMARY KEY (ENTITY, FIELD_NAME))"
        )
        self._semantics.clear()

    def entity(self, name: str) -> Entity:
        return self.entities[name]

    # -- generic reads -----------------------------------------------------------------------
    def select(
        self,
        entity: Entity,
        columns_sql: str,
        where: str,
        params: Sequence,
        order_sql: str,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[tuple]:
        sql = f'SELECT {columns_sql} FROM "{entity.table}" WHERE {where} {order_sql}'
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return self.db.execute(sql, list(params)).fetchall()

    def count(self, entity: Entity, where: str, params: Sequence) -> int:
        sql = f'SELECT count(*) FROM "{entity.table}" WHERE {where}'
        return self.db.execute(sql, list(params)).fetchone()[0]

    def exists(self, entity_name: str, record_id: int) -> bool:
        e = self.entities[entity_name]
        row = self.db.execute(
            f'SELECT 1 FROM "{e.table}" WHERE "{e.id_field}" = ?', (record_id,)
        ).fetchone()
        return row is not None

    def table_count(self, entity_name: str) -> int:
        e = self.entities[entity_name]
        return self.db.execute(f'SELECT count(*) FROM "{e.table}"').fetchone()[0]

    # -- bulk load (dataset generator) -------------------------------------------------------
    def insert_many(self, entity_name: str, columns: Sequence[str], rows: Iterable[Sequence]):
        e = self.entities[entity_name]
        cols = ", ".join(f'"{c}"' if c != "UF" else "UF" for c in columns)
        marks = ", ".join("?" * len(columns))
        self.db.executemany(f'INSERT INTO "{e.table}" ({cols}) VALUES ({marks})', rows)

    def begin(self) -> None:
        self.db.execute("BEGIN")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    # -- CRM writes --------------------------------------------------------------------------
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
        if entity_name == "lead":
            row["STATUS_SEMANTIC_ID"] = semantic
            row["DATE_CLOSED"] = ts if semantic in ("S", "F") else None
            lead_flags(row)
        else:
            row["STAGE_SEMANTIC_ID"] = semantic
            row["CLOSED"] = "Y" if semantic in ("S", "F") else "N"
            row["IS_NEW"] = "Y" if row[stage_field] == self.first_stage(dictionary) else "N"
            for flag in ("IS_RECURRING", "IS_RETURN_CUSTOMER", "IS_REPEATED_APPROACH"):
                row.setdefault(flag, "N")
            row.setdefault("TYPE_ID", "SALE")
            row.setdefault("PROBABILITY", None)
        new_id = self._insert(entity_name, row)
        self.add_history(
            entity_name, new_id, HISTORY_CREATED, ts, row[stage_field], semantic, category
        )
        return new_id

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

    def get_crm(self, entity_name: str, record_id: int) -> dict:
        e = self.entities[entity_name]
        cur = self.db.execute(f'SELECT * FROM "{e.table}" WHERE "ID" = ?', (record_id,))
        row = cur.fetchone()
        if row is None:
            raise NotFound(record_id)
        return dict(zip([d[0] for d in cur.description], row, strict=True))

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
                CATEGORY_ID=category,
                STAGE_ID=new_stage,
                STAGE_SEMANTIC_ID=semantic,
                CLOSED="Y" if semantic in ("S", "F") else "N",
                IS_NEW="Y" if new_stage == self.first_stage(dictionary) else "N",
                MOVED_TIME=ts,
                MOVED_BY_ID=user_id,
            )
            self.add_history(
                entity_name, record_id, HISTORY_FUNNEL, ts, new_stage, semantic, category
            )
        elif new_stage is not None and new_stage != current[stage_field]:
            dictionary = self.stage_dictionary(entity_name, old_category)
            semantic = self.semantic(dictionary, new_stage)
            changes.update(MOVED_TIME=ts, MOVED_BY_ID=user_id)
            if entity_name == "lead":
                changes["STATUS_SEMANTIC_ID"] = semantic
                changes["DATE_CLOSED"] = ts if semantic in ("S", "F") else None
            else:
                changes["STAGE_SEMANTIC_ID"] = semantic
                changes["CLOSED"] = "Y" if semantic in ("S", "F") else "N"
                changes["IS_NEW"] = "Y" if new_stage == self.first_stage(dictionary) else "N"
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

    def delete_crm(self, entity_name: str, record_id: int) -> None:
        """Into the recycle bin: gone from every list, restorable by `restore_crm`."""
        self._move(entity_name, record_id, "", "recycle_")

    def restore_crm(self, entity_name: str, record_id: int) -> None:
        """Out of the recycle bin, as it was deleted: same ID, fields and stage history."""
        self._move(entity_name, record_id, "recycle_", "")

    def _move(self, entity_name: str, record_id: int, source: str, target: str) -> None:
        table, history = self.entities[entity_name].table, f"{entity_name}_history"
        moved = self.db.execute(
            f'INSERT INTO "{target}{table}" SELECT * FROM "{source}{table}" WHERE "ID" = ?',
            (record_id,),
        )
        if moved.rowcount == 0:
            raise NotFound(record_id)
        self.db.execute(f'DELETE FROM "{source}{table}" WHERE "ID" = ?', (record_id,))
        self.db.execute(
            f'INSERT INTO "{target}{history}" SELECT * FROM "{source}{history}" WHERE OWNER_ID = ?',
            (record_id,),
        )
        self.db.execute(f'DELETE FROM "{source}{history}" WHERE OWNER_ID = ?', (record_id,))

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
