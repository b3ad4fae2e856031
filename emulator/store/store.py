"""The portal's data: an indexed SQLite database and the server-side effects of writes.

What a real portal does on a write, and this store does too (docs/bitrix24-api.md §5, §6, §8):
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
from collections.abc import Callable, Iterable, Sequence

from emulator.store.clock import PortalClock
from emulator.store.dictionaries import Dictionaries
from emulator.store.fields import (
    CATEGORY_FIELDS,
    DEAL_FIELDS,
    DEAL_HISTORY_FIELDS,
    DEPARTMENT_FIELDS,
    LEAD_FIELDS,
    LEAD_HISTORY_FIELDS,
    STATUS_FIELDS,
    USER_FIELDS,
)
from emulator.store.party_fields import (
    ACTIVITY_FIELDS,
    COMPANY_FIELDS,
    CONTACT_FIELDS,
    PRODUCT_ROW_FIELDS,
)
from emulator.store.query import Entity, sql_like
from emulator.store.records import NotFound, Records
from emulator.store.relations import Relations

_INDEXES = {
    "leads": ("DATE_MODIFY", "DATE_CREATE", "STATUS_ID", "ASSIGNED_BY_ID"),
    "deals": ("DATE_MODIFY", "DATE_CREATE", "STAGE_ID", "CATEGORY_ID", "LEAD_ID", "ASSIGNED_BY_ID"),
    "lead_history": ("OWNER_ID", "CREATED_TIME"),
    "deal_history": ("OWNER_ID", "CREATED_TIME"),
    "statuses": ("ENTITY_ID",),
    "contacts": ("DATE_MODIFY",),
    "companies": ("DATE_MODIFY",),
    "activities": ("LAST_UPDATED", "OWNER_ID"),
    "product_rows": ("OWNER_ID",),
}


# What a delete moves into the recycle bin: the record and what hangs on it.
_RECYCLED = ("leads", "deals", "lead_history", "deal_history", "activities", "product_rows")


class Store(Records, Relations, Dictionaries):
    def __init__(self, clock: PortalClock, path: str = ":memory:") -> None:
        self.clock = clock
        # told of every lead/deal add, update and delete: (entity, ADD|UPDATE|DELETE, ID)
        self.on_change: Callable[[str, str, int], None] = lambda entity, action, rid: None
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
            "contact": Entity("contacts", CONTACT_FIELDS),
            "company": Entity("companies", COMPANY_FIELDS),
            "activity": Entity("activities", ACTIVITY_FIELDS),
            "product_row": Entity("product_rows", PRODUCT_ROW_FIELDS),
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
        for table in _RECYCLED:
            cur.execute(f'DROP TABLE IF EXISTS "recycle_{table}"')
            cur.execute(f'CREATE TABLE "recycle_{table}" AS SELECT * FROM "{table}" WHERE 0')
        cur.execute("DROP TABLE IF EXISTS currencies")
        cur.execute(
            "CREATE TABLE currencies (CURRENCY TEXT PRIMARY KEY, AMOUNT_CNT INTEGER, AMOUNT TEXT,"
            " SORT INTEGER, BASE TEXT, FULL_NAME TEXT, FORMAT_STRING TEXT, DATE_UPDATE INTEGER)"
        )
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

    # -- reads of one record ----------------------------------------------------------------
    def get_crm(self, entity_name: str, record_id: int) -> dict:
        e = self.entities[entity_name]
        cur = self.db.execute(f'SELECT * FROM "{e.table}" WHERE "ID" = ?', (record_id,))
        row = cur.fetchone()
        if row is None:
            raise NotFound(record_id)
        return dict(zip([d[0] for d in cur.description], row, strict=True))
