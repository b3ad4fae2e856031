import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from emulator.testing import start_emulator
from orchestration.pipeline.settings import Settings
from orchestration.pipeline.warehouse.local_postgres import LocalServer


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
