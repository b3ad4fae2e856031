from dataclasses import replace

import dagster as dg
import pytest

from orchestration.dagster.definitions import build_definitions
from tests.support import AlertReceiver


@pytest.fixture(autouse=True)
def _no_dagster_state_storage_from_an_earlier_test():
    """Dagster keeps the entered instance's state storage in a context variable, and a test
    worker once carried a storage whose instance was gone into a later test: resolving its
    definitions failed with "undefined DagsterInstance weakref" (four tests at once, order
    dependent). Each test here starts with none; an instance it enters sets its own."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield


@pytest.fixture
def alert_receiver():
    receiver = AlertReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def settings(warehouse, monkeypatch, alert_receiver):
    """The test warehouse, alerts going to the local receiver; the env as the CLI would see it."""
    monkeypatch.setenv("WAREHOUSE_PATH", str(warehouse.warehouse_path))
    monkeypatch.setenv("SOURCES__BITRIX24__RATE_PER_SECOND", "0")
    return replace(warehouse, alert_webhook_url=alert_receiver.url)


@pytest.fixture
def defs(settings) -> dg.Definitions:
    return build_definitions(settings)


@pytest.fixture
def instance():
    """A Dagster instance in memory: runs, events and partitions kept by Dagster's own storage
    in an in-memory SQLite, not in SQLite files (`persistent_instance`), which open a
    connection for each of a marts run's ~500 events (~7 of its ~16 s)."""
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def persistent_instance():
    """A Dagster instance on disk, for what reopens the instance from its reference (a
    schedule's evaluation context)."""
    with dg.instance_for_test() as instance:
        yield instance
