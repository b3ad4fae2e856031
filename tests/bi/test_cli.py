"""`bitrix-warehouse bi` as a user runs it before there is anything to show."""

import os
import subprocess
import sys

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
