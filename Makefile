# The README's two commands: `make run` and `make test`.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# pytest-xdist workers; each starts its own server processes.
TEST_WORKERS ?= 2

.PHONY: setup run test test-fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[web,server,voice,dev]"
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) scripts/run_dev.py

test: setup
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

# Everything except the browser tests.
test-fast: setup
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not e2e"

# Benchmarks (about 10 minutes); results go to bench/results/ and bench/README.md.
bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) data .pytest_cache
