# Two commands a fresh clone needs (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

$(BIN)/targetsync: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

.PHONY: demo test clean
demo: $(BIN)/targetsync
	$(BIN)/targetsync demo --dir demo-run

test: $(BIN)/targetsync
	bash scripts/services.sh
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) demo-run .pytest_cache build *.egg-info
