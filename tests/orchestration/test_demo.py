"""`bitrix-warehouse demo`: the emulator, a sync at the real rate limit, dbt, a summary. Run with
three portals (`make demo-portals`): `make demo`'s one portal is `main` of them, and every step
of its path is part of this one."""

import os
import subprocess
import sys

from emulator.testing import ROOT


def test_demo_runs_end_to_end_and_shows_what_the_marts_say_of_each_portal(tmp_path):
    env = {**os.environ, "WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb")}
    env.pop("SOURCES__BITRIX24__WEBHOOK_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "orchestration", "demo", "--portals", "3", "--scale", "0.02"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    for title in ("Portals", "Leads by source", "Top ads by revenue", "Top parts by revenue",
                  "Lead funnel", "Data quality", "Freshness"):
        assert title in result.stdout
    portals = result.stdout.split("Portals", 1)[1].split("\n\n", 1)[0]
    assert [line.split()[0] for line in portals.strip().splitlines()[1:]] == [
        "east", "main", "north"]
    assert "UC_AVITO" in result.stdout and "Качественный лид" in result.stdout
    assert "product_name" in result.stdout  # the parts that sell
    assert (tmp_path / "demo" / "warehouse.duckdb").exists()
    assert "/rest/1/" not in result.stdout + result.stderr  # the emulators' secrets stay inside
