"""`bitrix-warehouse bi` as a user runs it, and what it hands Superset."""

import os
import subprocess
import sys

from orchestration import superset
from tests.support import ROOT


def test_bi_before_any_sync_or_demo_says_what_to_run_in_one_line(tmp_path):
    env = {**os.environ, "WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
           "BI_PATH": str(tmp_path / "bi.duckdb")}
    result = subprocess.run([sys.executable, "-m", "orchestration.cli", "bi", "--port", "1"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "does not exist yet" in result.stderr and "make demo" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "superset").exists()  # nothing set up for nothing


def test_superset_never_gets_the_portals_webhook(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCES__BITRIX24__WEBHOOK_URL", "https://portal/rest/1/s3cret/")
    env = superset.environment(tmp_path / "superset")
    assert not any("s3cret" in value for value in env.values())
    assert env["SUPERSET_SECRET_KEY"] == superset.environment(tmp_path / "superset")[
        "SUPERSET_SECRET_KEY"]  # made once, then kept
    assert (tmp_path / "superset" / "secret_key").stat().st_mode & 0o077 == 0
