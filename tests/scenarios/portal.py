"""A portal driven the way a real one is: every record is written through the REST write API
(`crm.lead.*`, `crm.deal.*`, `crm.item.*`, `crm.status.add`, `crm.category.add`, `user.add`) at
portal times the story chooses, synced by the product's own cycle (extract → load → dbt build →
publish), and read back from the published marts, as a BI user reads them (the BI copy on
DuckDB, schema `marts` on PostgreSQL).

Only the clock and the recycle bin are driven through the emulator's control API: a portal's
clock cannot be set over REST, and restoring a deleted record is a UI action without a method.
"""

from dataclasses import dataclass

from emulator.testing import Emulator
from orchestration.pipeline import operations, transform
from orchestration.pipeline.settings import Settings


@dataclass
class Portal:
    emulator: Emulator
    settings: Settings

    # -- time --------------------------------------------------------------------------------
    def at(self, when: str) -> None:
        """Stop the portal clock at `when` (ISO 8601 with offset): writes and syncs happen then."""
        self.emulator.control("POST", "clock", {"set": when, "frozen": True})

    # -- REST writes -------------------------------------------------------------------------
    def call(self, method: str, params: dict) -> object:
        return self.emulator.call(method, params)["result"]

    def manager(self, name: str) -> int:
        first, last = name.split(" ", 1)
        return int(self.call("user.add", {"NAME": first, "LAST_NAME": last,
                                          "EMAIL": f"{last.lower()}@example.ru"}))

    def source(self, code: str, name: str) -> None:
        self.call("crm.status.add", {"fields": {"ENTITY_ID": "SOURCE", "STATUS_ID": code,
                                                "NAME": name}})

    def funnel(self, name: str) -> int:
        return int(self.call("crm.category.add", {"entityTypeId": 2,
                                                  "fields": {"name": name}})["category"]["id"])

    def lead(self, **fields) -> int:
        return int(self.call("crm.lead.add", {"fields": fields}))

    def update_lead(self, lead_id: int, **fields) -> None:
        self.call("crm.lead.update", {"id": lead_id, "fields": fields})

    def deal(self, **fields) -> int:
        return int(self.call("crm.deal.add", {"fields": fields}))

    def update_deal(self, deal_id: int, **fields) -> None:
        self.call("crm.deal.update", {"id": deal_id, "fields": fields})

    def item(self, entity_type_id: int, **fields) -> int:
        """`crm.item.add` with camelCase fields (a deal's `leadId` links it to its lead)."""
        return int(self.call("crm.item.add", {"entityTypeId": entity_type_id,
                                              "fields": fields})["item"]["id"])

    def update_item(self, entity_type_id: int, item_id: int, **fields) -> dict:
        return self.call("crm.item.update", {"entityTypeId": entity_type_id, "id": item_id,
                                             "fields": fields})["item"]

    def delete(self, entity: str, record_id: int) -> None:
        self.call(f"crm.{entity}.delete", {"id": record_id})

    def restore(self, entity: str, record_id: int) -> None:
        """A user restores the record from the recycle bin (Корзина)."""
        self.emulator.control("POST", f"recyclebin/{entity}/{record_id}")

    # -- the product -------------------------------------------------------------------------
    def sync(self) -> None:
        """`bitrix-warehouse sync` at the portal clock: extract → load → build → publish."""
        operations.load(self.settings, operations.Sync(), rate_per_second=0)
        self._build()

    def reconcile(self) -> None:
        operations.load(self.settings, operations.Reconcile(), rate_per_second=0)
        self._build()

    def _build(self) -> None:
        # the models alone: the data tests run once, on what the story ends with (`finish`)
        operations.build(self.settings, data_tests=False)
        self.settings.warehouse.publish()

    def finish(self) -> None:
        """The dbt data tests on the warehouse the story left (each sync builds without them,
        as the worker does between its test runs)."""
        transform.build(self.settings, transform.Build(models=False))

    # -- what a BI user reads ----------------------------------------------------------------
    def rows(self, sql: str) -> list[tuple]:
        with self.settings.warehouse.read_published() as con:
            return con.rows(sql)

    def value(self, sql: str):
        (row,) = self.rows(sql)
        (value,) = row
        return value
