"""`bitrix-warehouse bi` as a user runs it, and what it hands Superset."""

import os
import subprocess
import sys

import duckdb

from emulator.testing import ROOT
from orchestration.commands import superset


def test_bi_before_any_sync_or_demo_says_what_to_run_in_one_line(tmp_path):
    env = {**os.environ, "WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
           "BI_PATH": str(tmp_path / "bi.duckdb")}
    result = subprocess.run([sys.executable, "-m", "orchestration", "bi", "--port", "1"],
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


CONNECTION_AFTER_A_PUBLISH = """
import os, sys
import superset_config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
copy, newer = sys.argv[1:]
url, params = superset_config.DB_CONNECTION_MUTATOR(
    make_url(f"duckdb:///{copy}"), {"poolclass": NullPool}, None, None, None)
engine = create_engine(url, **params)
reading = engine.connect()  # a chart's query still running on the old copy
before = reading.execute(text("select count(*) from marts.fct_leads")).scalar()
os.replace(newer, copy)  # the pipeline publishes
with engine.connect() as con:
    after = con.execute(text("select count(*) from marts.fct_leads")).scalar()
    try:
        con.execute(text("delete from marts.fct_leads"))
        writable = True
    except Exception:
        writable = False
print(before, after, reading.execute(text("select count(*) from marts.fct_leads")).scalar(),
      writable)
"""


def test_superset_reads_the_newest_copy_while_a_query_still_reads_the_old_one(tmp_path):
    """DuckDB shares one instance per open file within a process; Superset's connections
    attach the copy instead, so a publish shows at the next query, busy or not."""
    for name, leads in (("bi.duckdb", 3), ("new.duckdb", 5)):
        with duckdb.connect(str(tmp_path / name)) as con:
            con.execute("create schema marts")
            con.execute(f"create table marts.fct_leads as select * from range({leads})")
    env = {**superset.environment(tmp_path / "superset"), "PYTHONPATH": str(superset.BI_DIR)}
    result = subprocess.run(
        [str(superset.BIN / "python"), "-c", CONNECTION_AFTER_A_PUBLISH,
         str(tmp_path / "bi.duckdb"), str(tmp_path / "new.duckdb")],
        env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["3", "5", "3", "False"]  # old query undisturbed; read-only


CACHE_ACROSS_PUBLISHES = """
import os, sys
import superset_config
from published_cache import PublishedCopyCache
copy, newer, newest = sys.argv[1:]
from flask import Flask
from flask_caching import Cache
made = Cache(Flask("superset"), config=superset_config.DATA_CACHE_CONFIG)  # as Superset makes it
cache = made.cache
assert isinstance(cache, PublishedCopyCache) and cache._threshold == 2000, cache
seen = []
seen.append(cache.get("chart"))           # a miss: the chart queries the copy...
cache.set("chart", "first copy")           # ...and its answer is kept
cache.get("table"); cache.set("table", "first copy")
seen.append(cache.get("chart"))           # opened again: from the cache
os.replace(newer, copy)                    # the pipeline publishes
seen.append(cache.get("chart"))           # the new copy: a miss, never the old answer
seen.append(len(cache._cache))             # and the old copy's answers are gone
cache.set("chart", "second copy")
seen.append(cache.get("chart"))
seen.append(cache.get("other"))           # looked up in the second copy, then a publish
os.replace(newest, copy)                   # before its query opened the file:
seen.append(cache.set("other", "raced"))   # its answer is not kept
seen.append(cache.get("other"))           # the third copy's lookup queries again
os.remove(copy)                            # nothing published: nothing kept or served
seen.append(cache.set("chart", "none"))
seen.append(cache.get("chart"))
print(seen)
"""


def test_superset_serves_chart_data_from_the_cache_until_the_next_publish(tmp_path):
    """Chart data is cached per published BI copy: a dashboard opened again answers from
    memory, and the first request after a publish queries the new file and drops the old
    copy's answers. The dashboards test shows the same through the browser."""
    copies = []
    for name in ("bi.duckdb", "new.duckdb", "newest.duckdb"):
        (tmp_path / name).write_text(name)
        copies.append(str(tmp_path / name))
    env = {**superset.environment(tmp_path / "superset", tmp_path / "bi.duckdb"),
           "PYTHONPATH": str(superset.BI_DIR)}
    result = subprocess.run([str(superset.BIN / "python"), "-c", CACHE_ACROSS_PUBLISHES,
                             *copies], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == str([None, "first copy", None, 0, "second copy", None,
                                         False, None, False, None])
