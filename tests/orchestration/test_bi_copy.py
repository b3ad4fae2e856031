"""The BI copy: readers never see a lock error or a mix of old and new marts, and older DuckDB
drivers can open it."""

import json
import struct
import subprocess
import sys

import duckdb
import pytest

from emulator.testing import ROOT
from orchestration.pipeline import operations
from tests.warehouse import MARTS, sync

# A BI tool in its own process: opens BI_PATH read-only again and again, and checks an invariant
# that spans two marts (daily lead counts add up to the lead fact table) inside one connection.
READER = """
import json, sys, time, duckdb
path, stop = sys.argv[1], sys.argv[2]
reads, errors, mismatches, seen = 0, [], [], set()
import os
while not os.path.exists(stop):
    try:
        with duckdb.connect(path, read_only=True) as con:
            daily = con.execute(
                "select sum(leads_received) from marts.mart_lead_sources_daily").fetchall()[0][0]
            facts = con.execute(
                "select count(*) from marts.fct_leads").fetchall()[0][0]
        reads += 1
        seen.add(facts)
        if daily != facts:
            mismatches.append([daily, facts])
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    time.sleep(0.05)
print(json.dumps({"reads": reads, "errors": errors[:5], "mismatches": mismatches[:5],
                  "versions": sorted(seen)}))
"""


@pytest.mark.timeout(600)  # seven full cycles; ~1 min with another worker on the cores
def test_a_reader_during_six_syncs_sees_no_error_and_never_a_mix_of_old_and_new_marts(
    warehouse, demo, tmp_path
):
    sync_run(warehouse)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(warehouse.bi_path), str(stop)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        for i in range(6):
            for _ in range(3):
                demo.call("crm.lead.add", {"fields": {"TITLE": f"lead of sync {i}",
                                                      "SOURCE_ID": "WEB"}})
            sync_run(warehouse)
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    result = json.loads(out)
    assert result["errors"] == [] and result["mismatches"] == []
    assert result["reads"] > 30
    assert len(result["versions"]) >= 4  # it read while the copies changed under it
    with warehouse.warehouse.read_published() as con:
        leads = con.execute("select count(*) from marts.fct_leads").fetchall()[0][0]
    assert leads == len(demo.records("lead"))


def sync_run(warehouse):
    return operations.run(warehouse, operations.Sync(), rate_per_second=0)


def test_the_bi_copy_holds_only_marts_and_the_run_log_in_an_older_storage_version(warehouse,
                                                                                   demo):
    sync(warehouse)
    published = sync_run(warehouse).published
    header = warehouse.bi_path.read_bytes()[8:20]
    assert header[:4] == b"DUCK"
    # DuckDB 1.5 reads storage versions 64-68; 2.0 writes its own newer one by default
    assert 64 <= struct.unpack("<Q", header[4:])[0] <= 68
    with duckdb.connect(str(warehouse.bi_path), read_only=True) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables "
                             "order by 1, 2").fetchall()
    assert {s for s, _ in tables} == {"marts", "ops"}
    assert set(tables) == {("marts", m) for m in MARTS} | {("ops", "sync_runs")}
    assert published.tables == len(tables)
    assert not list(warehouse.bi_path.parent.glob(".*.tmp"))  # no temporary file left behind


def test_publishing_while_a_reader_holds_the_old_copy_open_still_swaps(warehouse, demo):
    sync(warehouse)
    sync_run(warehouse)
    holder = duckdb.connect(str(warehouse.bi_path), read_only=True)
    try:
        before = holder.execute("select count(*) from marts.fct_leads").fetchall()[0][0]
        demo.call("crm.lead.add", {"fields": {"TITLE": "one more"}})
        sync_run(warehouse)
        # the open connection keeps the file it opened; a new reader (another process: DuckDB
        # shares one open database per path within a process) sees the new one
        assert holder.execute("select count(*) from marts.fct_leads").fetchall()[0][0] == before
        fresh = subprocess.run(
            [sys.executable, "-c", "import duckdb, sys; print(duckdb.connect(sys.argv[1], "
             "read_only=True).execute('select count(*) from marts.fct_leads').fetchall()[0][0])",
             str(warehouse.bi_path)], capture_output=True, text=True, check=True)
        assert int(fresh.stdout) == before + 1
    finally:
        holder.close()
