"""The store's dictionaries: custom fields, statuses (stages, sources, deal types), deal funnels,
users, departments and currencies. A part of `Store`, kept apart from the CRM records."""

from collections.abc import Mapping

from emulator.store.records import NotFound
from emulator.store.values import normalize


class Dictionaries:
    """Mixed into `Store`: needs its `db`, `clock`, `entities`, `exists()` and `_semantics`;
    gives `_insert()` and `_update()` to the other parts."""

    def add_userfield(self, entity_name: str, name: str, kind: str, title: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO userfields VALUES (?, ?, ?, ?)",
            (entity_name, name, kind, title),
        )
        self.entities[entity_name].custom[name] = kind

    def userfields(self, entity_name: str) -> list[tuple[str, str, str]]:
        return self.db.execute(
            "SELECT FIELD_NAME, TYPE, TITLE FROM userfields WHERE ENTITY = ? ORDER BY FIELD_NAME",
            (entity_name,),
        ).fetchall()

    def add_status(self, fields: Mapping) -> int:
        entity_id = str(fields["ENTITY_ID"])
        category = fields.get("CATEGORY_ID")
        if category is None and entity_id.startswith("DEAL_STAGE_"):
            category = int(entity_id.rsplit("_", 1)[1])
        semantics = fields.get("SEMANTICS") or None
        name = str(fields.get("NAME") or fields["STATUS_ID"])
        cur = self.db.execute(
            "INSERT INTO statuses (ENTITY_ID, STATUS_ID, NAME, NAME_INIT, SORT, SYSTEM,"
            " CATEGORY_ID, COLOR, SEMANTICS) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entity_id,
                str(fields["STATUS_ID"]),
                name,
                fields.get("NAME_INIT", name if fields.get("SYSTEM") == "Y" else None),
                int(fields.get("SORT") or 10),
                fields.get("SYSTEM", "N"),
                category,
                fields.get("COLOR"),
                semantics,
            ),
        )
        self._semantics.clear()
        return cur.lastrowid

    def status_exists(self, entity_id: str, status_id: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM statuses WHERE ENTITY_ID = ? AND STATUS_ID = ?", (entity_id, status_id)
        ).fetchone()
        return row is not None

    def semantic(self, dictionary: str, status_id: str | None) -> str:
        """`S`, `F` or `P` for a stage of a dictionary; unknown and empty stages count as `P`."""
        key = (dictionary, status_id or "")
        hit = self._semantics.get(key)
        if hit is None:
            row = self.db.execute(
                "SELECT SEMANTICS FROM statuses WHERE ENTITY_ID = ? AND STATUS_ID = ?", key
            ).fetchone()
            hit = self._semantics[key] = (row[0] if row else None) or "P"
        return hit

    def first_stage(self, dictionary: str) -> str | None:
        row = self.db.execute(
            "SELECT STATUS_ID FROM statuses WHERE ENTITY_ID = ? ORDER BY SORT, ID LIMIT 1",
            (dictionary,),
        ).fetchone()
        return row[0] if row else None

    def add_category(self, category_id: int, name: str, sort: int, is_default: bool) -> None:
        self.db.execute(
            "INSERT INTO categories (id, name, sort, entityTypeId, isDefault, originId,"
            " originatorId) VALUES (?, ?, ?, 2, ?, '', '')",
            (category_id, name, sort, "Y" if is_default else "N"),
        )

    def next_category_id(self) -> int:
        return self.db.execute("SELECT coalesce(max(id), 0) + 1 FROM categories").fetchone()[0]

    def category_exists(self, category_id: int) -> bool:
        return self.exists("category", category_id)

    def update_status(self, row_id: int, fields: Mapping) -> None:
        """NAME, SORT and COLOR of a status row (what `crm.status.update` may change)."""
        self._update("status", row_id, {k: v for k, v in fields.items()
                                         if k in ("NAME", "SORT", "COLOR")})
        self._semantics.clear()

    def delete_status(self, row_id: int) -> None:
        self.db.execute("DELETE FROM statuses WHERE ID = ?", (row_id,))
        self._semantics.clear()

    def status_in_use(self, entity_id: str, status_id: str) -> bool:
        """Whether a live lead or deal sits in the stage (a portal refuses to delete it then)."""
        if entity_id == "STATUS":
            sql = "SELECT 1 FROM leads WHERE STATUS_ID = ? LIMIT 1"
        elif entity_id.startswith("DEAL_STAGE"):
            sql = "SELECT 1 FROM deals WHERE STAGE_ID = ? LIMIT 1"
        else:
            return False
        return self.db.execute(sql, (status_id,)).fetchone() is not None

    def update_category(self, category_id: int, fields: Mapping) -> None:
        self._update("category", category_id, {k: v for k, v in fields.items()
                                               if k in ("name", "sort")})

    def delete_category(self, category_id: int) -> None:
        """A funnel and its stages (`DEAL_STAGE_<id>`)."""
        self.db.execute("DELETE FROM categories WHERE id = ?", (category_id,))
        self.db.execute("DELETE FROM statuses WHERE ENTITY_ID = ?", (f"DEAL_STAGE_{category_id}",))
        self._semantics.clear()

    def category_in_use(self, category_id: int) -> bool:
        row = self.db.execute("SELECT 1 FROM deals WHERE CATEGORY_ID = ? LIMIT 1", (category_id,))
        return row.fetchone() is not None

    def add_user(self, fields: Mapping) -> int:
        row = normalize(self.entities["user"], fields, self.clock, creating=True, raw=True)
        row.setdefault("ACTIVE", 1)
        row.setdefault("USER_TYPE", "employee")
        row.setdefault("IS_ONLINE", "N")
        row.setdefault("DATE_REGISTER", int(self.clock.now()))
        row.setdefault("UF_DEPARTMENT", "[1]")
        return self._insert("user", row)

    def update_user(self, user_id: int, fields: Mapping) -> None:
        """`user.update`: the writable fields given; `ACTIVE` false is a dismissal."""
        entity = self.entities["user"]
        if not self.exists("user", user_id):
            raise NotFound(user_id)
        self._update("user", user_id, normalize(entity, fields, self.clock, creating=False))

    def add_department(self, fields: Mapping) -> int:
        row = normalize(self.entities["department"], fields, self.clock, creating=True, raw=True)
        row.setdefault("SORT", 500)
        return self._insert("department", row)

    # -- currencies: CURRENCY, AMOUNT_CNT units cost AMOUNT of the base currency -----------------
    def currencies(self, code: str | None = None) -> list[dict]:
        cur = self.db.execute(
            "SELECT * FROM currencies WHERE ? IS NULL OR CURRENCY = ? ORDER BY SORT, CURRENCY",
            (code, code),
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def put_currency(self, fields: Mapping) -> None:
        """Add or change a currency (`fields` hold its CURRENCY); BASE `Y` makes it the base."""
        row = {**(self.currencies(fields["CURRENCY"]) or [{}])[0], **fields}
        row.setdefault("AMOUNT_CNT", 1)
        row.setdefault("SORT", 100)
        row.setdefault("BASE", "N")
        row.setdefault("FULL_NAME", row["CURRENCY"])
        row.setdefault("FORMAT_STRING", f"# {row['CURRENCY']}")
        row["DATE_UPDATE"] = int(self.clock.now())
        if row["BASE"] == "Y":
            self.db.execute("UPDATE currencies SET BASE = 'N'")
        cols = ", ".join(row)
        self.db.execute(
            f"INSERT OR REPLACE INTO currencies ({cols}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )

    def delete_currency(self, code: str) -> None:
        self.db.execute("DELETE FROM currencies WHERE CURRENCY = ?", (code,))

    def _update(self, entity_name: str, record_id: int, changes: Mapping) -> None:
        if not changes:
            return
        e = self.entities[entity_name]
        sets = ", ".join(f'"{c}" = ?' for c in changes)
        self.db.execute(
            f'UPDATE "{e.table}" SET {sets} WHERE "{e.id_field}" = ?',
            [*changes.values(), record_id],
        )

    def _insert(self, entity_name: str, row: Mapping) -> int:
        e = self.entities[entity_name]
        cols = ", ".join(f'"{c}"' if c != "UF" else "UF" for c in row)
        marks = ", ".join("?" * len(row))
        cur = self.db.execute(
            f'INSERT INTO "{e.table}" ({cols}) VALUES ({marks})', list(row.values())
        )
        return cur.lastrowid

