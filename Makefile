# Two commands a fresh clone needs (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

$(BIN)/targetsync: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

export DAGSTER_HOME := $(CURDIR)/dagster_home

.PHONY: demo ui test bench clean
# the full sync job (Dagster) on the embedded SQLite default, printing what changed per table
demo: $(BIN)/targetsync
	$(BIN)/python -m targetsync_dagster.demo --dir demo-run

# the Dagster UI on 127.0.0.1:3000 over the demo run directory
ui: $(BIN)/targetsync
	TARGETSYNC_RUN_DIR=$(CURDIR)/demo-run PATH=$(CURDIR)/$(BIN):$$PATH VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg dev --host 127.0.0.1 --port 3000

test: $(BIN)/targetsync
	bash scripts/services.sh
	bash scripts/system-packages.sh
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# the benchmark scenarios of bench/run.py (long: see bench/RESULTS.md for what was run)
bench: $(BIN)/targetsync
	bash scripts/services.sh
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) demo-run .pytest_cache build *.egg-info
