import pytest

from tests.scenarios.portal import Portal


@pytest.fixture
def portal(emulator, warehouse) -> Portal:
    """An empty portal (the default dictionaries, funnel 0, the admin) and a new warehouse."""
    return Portal(emulator, warehouse)
