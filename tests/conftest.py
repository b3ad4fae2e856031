import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from emulator.testing import start_emulator
from orchestration.pipeline.settings import Settings
from orchestration.pipeline.warehouse.local_postgres import LocalServer
from tests.support import NORTH_SECRET


@pytest.fixture(scope="session")
def emulator_process():
    """One emulator for the session, limits off so tests run at full speed; tests that need
    limits turn them on through `/_emulator/config`."""
    emu = start_emulator("--dataset", "empty", "--no-rate-limit", "--no-operating-limit")
    yield emu
    emu.stop()


@pytest.fixture
def emulator(emulator_process):
    """The session's emulator reset to an empty portal, real clock, no faults, limits off."""
    emulator_process.configure(
        rate_limit={"enabled": False},
        # every knob back to the portal's default: a test that set a tiny limit made a later
        # test on the same worker fail at random (test_operating_reset_at_…)
        operating_limit={"enabled": False, "limit_seconds": 480, "cost_scale": 1},
        auth_error_status=401,
        stagehistory_legacy_strings=False,
        scopes=None,
        crm_access=True,
    )
    emulator_process.control("POST", "clock", {"real": True})
    emulator_process.control("POST", "live", {"enabled": False})
    emulator_process.reset("empty")
    return emulator_process


@pytest.fixture
def demo(emulator):
    """The emulator with a small demo portal (scale 0.05: ~3,500 leads)."""
    emulator.reset("demo", scale=0.05)
    return emulator


@pytest.fixture
def north():
    """A second portal: an emulator of its own, empty, with its own webhook and secret (its
    record IDs start at 1, as the main portal's do)."""
    emu = start_emulator("--dataset", "empty", "--no-rate-limit", "--no-operating-limit",
                         secret=NORTH_SECRET)
    yield emu
    emu.stop()


@pytest.fixture
def warehouse(tmp_path, monkeypatch, emulator) -> Settings:
    """A temporary warehouse wired to the session's emulator."""
    monkeypatch.setenv("SOURCES__BITRIX24__WEBHOOK_URL", emulator.webhook)
    return Settings(
        warehouse_path=tmp_path / "warehouse.duckdb",
        bi_path=tmp_path / "bi.duckdb",
        dlt_dir=tmp_path / "dlt",
        portal_timezone=None,
        alert_webhook_url=None,
        duckdb_memory_limit="1GB",
        stale_after_minutes=5,
    )


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server per test worker (Debian's binaries, fsync off), in a folder of its
    own under /tmp: pytest's are private to root, and the server runs as `postgres`."""
    root = Path(tempfile.mkdtemp(prefix="bw-postgres-"))
    server = LocalServer(root, durable=False).start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def on_postgres(warehouse, postgres_server) -> Settings:
    """`warehouse` on an empty database of the worker's PostgreSQL server. Every test's has
    the same name (made anew): dbt's parsed project names the database, so the worker's dbt
    parses the project once instead of once a test."""
    return replace(warehouse, engine="postgres",
                   postgres_url=postgres_server.create_database("warehouse"))


@pytest.fixture(params=["duckdb", "postgres"])
def any_warehouse(request, warehouse) -> Settings:
    """`warehouse` on each engine in turn (on Postgres: `on_postgres`)."""
    return warehouse if request.param == "duckdb" else request.getfixturevalue("on_postgres")


# Modules of end-to-end tests that take tens of seconds each (Dagster runs, Superset, the
# benchmarks' smoke runs, kills and restarts, every scenario on both engines): `make test`
# runs them first, so the longest do not start last; `make test-fast` leaves them out.
SLOW_MODULES = {
    "tests/test_benchmarks_smoke.py",
    "tests/scenarios",
    "tests/orchestration/test_dagster_runs.py",
    "tests/orchestration/test_bi_copy.py",
    "tests/orchestration/test_worker.py",
    "tests/orchestration/test_demo.py",
    "tests/orchestration/test_personal_data.py",
    "tests/orchestration/test_portals.py",
    "tests/orchestration/test_cli.py",
    "tests/sources/test_changes_during_a_pass.py",
    "tests/sources/test_resilience.py",
    "tests/emulator/test_third_party_clients.py",
}


LONGEST = ("tests/bi/test_dashboards.py", "tests/test_benchmarks_smoke.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = item.nodeid.split("::")[0]
        on_postgres = "[postgres" in item.nodeid
        if on_postgres or any(path == m or path.startswith(m + "/") for m in SLOW_MODULES):
            item.add_marker(pytest.mark.slow)
    # The longest first, so that the last tests to start are short and both workers finish
    # together (`make test` hands each worker one test at a time: `--maxschedchunk 1`): the
    # stateful test, the dashboards and the benchmarks' smoke runs (up to 2.5 min each), then
    # every other slow test, each group in its order.
    items.sort(key=lambda item: (0 if "incremental_equals_full_rebuild" in item.nodeid
                                 else 1 if item.nodeid.startswith(LONGEST)
                                 else 2 if item.get_closest_marker("slow") else 3))
