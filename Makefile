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
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup bi-setup demo dev bi test lint emulator bench bench-smoke clean

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

demo: setup
	$(VENV)/bin/bitrix-warehouse demo

dev: setup
	$(VENV)/bin/bitrix-warehouse dev

bi: bi-setup
	$(VENV)/bin/bitrix-warehouse bi

worker: setup
	$(VENV)/bin/bitrix-warehouse worker

# One worker per core (each with its own emulator): the suite waits on dbt and Dagster
# subprocesses, not on one another; the slowest tests are listed at the end.
test: bi-setup $(CHROMIUM)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -n auto --dist worksteal --durations=15

lint: setup
	$(VENV)/bin/ruff check .

emulator: setup
	$(VENV)/bin/bitrix-warehouse emulator --live

bench: setup
	$(VENV)/bin/python -m benchmarks.run

bench-smoke: setup
	$(VENV)/bin/python -m benchmarks.run --smoke

clean:
	rm -rf $(VENV) $(BI_VENV) $(TOOLS) .pytest_cache .ruff_cache
