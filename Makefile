# Thin wrappers: every dependency comes from pyproject.toml + uv.lock, installed into .venv.
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export RUNTIME__DLTHUB_TELEMETRY := false

.PHONY: setup demo dev test lint emulator bench bench-smoke clean

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --extra dev
	touch $@

setup: $(VENV)/.synced

demo: setup
	$(VENV)/bin/bitrix-warehouse demo

dev: setup
	$(VENV)/bin/bitrix-warehouse dev

# One worker per core (each with its own emulator): the suite waits on dbt and Dagster
# subprocesses, not on one another; the slowest tests are listed at the end.
test: setup
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
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache
