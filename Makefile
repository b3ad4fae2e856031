# Thin wrappers: every dependency comes from pyproject.toml + uv.lock, installed into .venv.
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export RUNTIME__DLTHUB_TELEMETRY := false

BI_VENV := bi/.venv
CHROMIUM := /usr/bin/chromium
POSTGRES_BIN := /usr/lib/postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup bi-setup demo demo-portals demo-postgres postgres postgres-server postgres-stop dev bi test test-fast lint \
	emulator bench \
	bench-smoke clean

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --extra dev
	touch $@

setup: $(VENV)/.synced

# Superset in its own environment (bi/pyproject.toml + bi/uv.lock): its pins would fight ours.
$(BI_VENV)/.synced: $(UV) bi/pyproject.toml bi/uv.lock
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(BI_VENV) $(UV) sync --frozen --project bi
	touch $@

# Debian's Chromium for the dashboards' browser test (Playwright drives it; it downloads none).
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium

bi-setup: setup $(BI_VENV)/.synced

# Debian's PostgreSQL server for the postgres engine's tests, demo and benchmarks (a cluster of
# the project's own is started from its binaries; the package's own cluster is not used).
# (postgresql-client alone also fills /usr/lib/postgresql, so the server's initdb is looked for.)
postgres-server:
	@ls $(POSTGRES_BIN)/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	  postgresql; }

# The local server (data/postgres): started, or already running; prints POSTGRES_URL's export.
postgres: setup postgres-server
	$(VENV)/bin/bitrix-warehouse postgres start

postgres-stop: setup
	$(VENV)/bin/bitrix-warehouse postgres stop

# The demo on the PostgreSQL engine: the marts end up in the local server's database `demo`.
demo-postgres: postgres
	$(VENV)/bin/bitrix-warehouse demo --engine postgres

demo: setup
	$(VENV)/bin/bitrix-warehouse demo

# Three portals in three time zones into one set of marts (each row with its `portal`).
demo-portals: setup
	$(VENV)/bin/bitrix-warehouse demo --portals 3 --scale 0.2

dev: setup
	$(VENV)/bin/bitrix-warehouse dev

bi: bi-setup
	$(VENV)/bin/bitrix-warehouse bi

worker: setup
	$(VENV)/bin/bitrix-warehouse worker

# One worker per core (each with its own emulator), each handed one test at a time, the longest
# first (tests/conftest.py): with xdist's default chunks one worker was left with the last
# long tests while the other sat idle. The slowest tests are listed at the end.
test: bi-setup $(CHROMIUM) postgres-server
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -n auto --dist load --maxschedchunk 1 --durations=15

# The edit-run loop: lint, then every test but the slow end-to-end ones (see tests/conftest.py).
test-fast: setup postgres-server
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -n auto --dist load --maxschedchunk 1 -m "not slow and not bi" --durations=10

lint: setup
	$(VENV)/bin/ruff check .

emulator: setup
	$(VENV)/bin/bitrix-warehouse emulator --live

bench: setup postgres-server
	$(VENV)/bin/python -m benchmarks.run

bench-smoke: setup postgres-server
	$(VENV)/bin/python -m benchmarks.run --smoke

clean:
	rm -rf $(VENV) $(BI_VENV) $(TOOLS) .pytest_cache .ruff_cache
