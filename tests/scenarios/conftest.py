import pytest

from tests.scenarios.portal import Portal


@pytest.fixture
def portal(emulator, any_warehouse) -> Portal:
    """An empty portal (the default dictionaries, funnel 0, the admin) and a new warehouse, on
    each engine: every scenario runs on DuckDB and on PostgreSQL. The dbt data tests run once
    on what the story leaves, when it synced at all."""
    portal = Portal(emulator, any_warehouse)
    yield portal
    if portal.settings.warehouse.is_published():
        portal.finish()
