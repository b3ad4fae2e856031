"""`bitrix-warehouse sync` and `reconcile` as a user runs them."""

import os
import subprocess
import sys

from tests.support import ROOT


def _run(args, warehouse, webhook):
    env = {**os.environ, "WAREHOUSE_PATH": str(warehouse.warehouse_path),
           "DLT_PIPELINES_DIR": str(warehouse.dlt_dir), "BI_PATH": str(warehouse.bi_path)}
    env.pop("SOURCES__BITRIX24__WEBHOOK_URL", None)
    if webhook:
        env["SOURCES__BITRIX24__WEBHOOK_URL"] = webhook
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_sync_loads_then_reports_nothing_new_and_reconcile_marks_deletions(warehouse, demo):
    demo.configure(rate_limit={"enabled": False})
    first = _run(["sync"], warehouse, demo.webhook)
    assert first.returncode == 0, first.stderr
    assert f"leads {len(demo.records('lead')):,}," in first.stdout
    second = _run(["sync"], warehouse, demo.webhook)
    assert second.returncode == 0 and "nothing new" in second.stdout
    demo.call("crm.deal.delete", {"id": int(demo.records("deal")[0]["ID"])})
    marked = _run(["reconcile"], warehouse, demo.webhook)
    assert marked.returncode == 0 and "Deletion marks written: 1" in marked.stdout
    for result in (first, second, marked):
        assert demo.secret not in result.stdout + result.stderr


def test_sync_with_bad_credentials_says_so_in_one_line(warehouse, demo):
    result = _run(["sync"], warehouse, demo.webhook.replace(demo.secret, "bad"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "INVALID_CREDENTIALS" in result.stderr and "/rest/1/***/" in result.stderr


def test_sync_without_a_webhook_says_how_to_set_it(warehouse, demo):
    result = _run(["sync"], warehouse, None)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "SOURCES__BITRIX24__WEBHOOK_URL" in result.stderr
