"""Superset's configuration for the bitrix-warehouse dashboards (read by Superset itself).

`orchestration/superset.py` sets the environment: SUPERSET_HOME (Superset's own metadata,
SQLite) and SUPERSET_SECRET_KEY (made once per home and kept there). Data comes from the BI
copy only, through one read-only DuckDB connection per query (no pool, no cache), so a
dashboard always reads the newest published file and never holds it open between refreshes.
"""

import os

_HOME = os.environ["SUPERSET_HOME"]

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = f"sqlite:///{_HOME}/superset.db"
DATA_DIR = _HOME

# the data changes every minute: never serve a chart from a cache
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
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
