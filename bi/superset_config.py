"""Superset's configuration for the bitrix-warehouse dashboards (read by Superset itself).

`orchestration/commands/superset.py` sets the environment: SUPERSET_HOME (Superset's own
metadata, SQLite), SUPERSET_SECRET_KEY (made once per home and kept there) and BI_PATH (the BI
copy the dashboards read). Data comes from the BI copy only, through one read-only DuckDB
connection per query (no pool), so a dashboard reads the newest published file and never holds
it open between refreshes; chart data is cached per published file (`PublishedCopyCache`).
"""

import os
import sys
from pathlib import Path

import duckdb
from duckdb_engine import ConnectionWrapper

# Superset runs this file without importing it, and flask-caching imports a cache class by its
# module path: the project's cache is a module beside this file (appended: nothing installed
# is shadowed)
sys.path.append(str(Path(__file__).resolve().parent))

_HOME = os.environ["SUPERSET_HOME"]

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = f"sqlite:///{_HOME}/superset.db"
DATA_DIR = _HOME

CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}  # Superset's own metadata: read fresh every time
# chart data for a day, per published BI copy; `admin.py setup` reads no chart data
DATA_CACHE_CONFIG = (
    {"CACHE_TYPE": "published_cache.PublishedCopyCache", "CACHE_DEFAULT_TIMEOUT": 86400,
     "CACHE_THRESHOLD": 2000}
    if os.environ.get("BI_PATH") else {"CACHE_TYPE": "NullCache"}
)
EXPLORE_FORM_DATA_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 86400}
FILTER_STATE_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 86400}

# a local tool on loopback without TLS; Talisman's HTTPS-only cookies would break the login
TALISMAN_ENABLED = False
SESSION_COOKIE_SECURE = False

FEATURE_FLAGS = {
    "DASHBOARD_VIRTUALIZATION": False,  # draw every chart at once: the dashboards are small
}
# the users read Russian: Superset's own Russian translation is one click away (the flag menu)
BABEL_DEFAULT_LOCALE = "en"
LANGUAGES = {"en": {"flag": "us", "name": "English"}, "ru": {"flag": "ru", "name": "Russian"}}
ROW_LIMIT = 200_000  # the ads table ranks ~150,000 ads


def _attached_read_only(path: str) -> ConnectionWrapper:
    conn = duckdb.connect()  # in memory: a DuckDB instance of its own
    conn.execute("attach ? as bi (read_only)", [path])  # a path is bound, never pasted
    conn.execute("use bi")
    return ConnectionWrapper(conn)


def DB_CONNECTION_MUTATOR(uri, params, username, security_manager, source):
    """A DuckDB file opens as an attachment to a new in-memory database. DuckDB keeps one
    instance per file in a process while any connection to it is open, and a connection opened
    meanwhile reads the file that instance opened: with charts querying at once, a dashboard
    could go on reading a BI copy the pipeline replaced minutes ago. An attachment opens the
    file the path names now (the old one, if a query still reads it, stays open for that
    query alone)."""
    if uri.drivername == "duckdb" and uri.database not in (None, "", ":memory:"):
        path = uri.database
        params["creator"] = lambda: _attached_read_only(path)
    return uri, params
