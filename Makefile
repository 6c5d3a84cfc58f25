# queued-jobs: `make demo` runs the product on the embedded SQLite default;
# `make test` installs everything (Python packages, Azurite from npm) and runs the suite.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell $(PYTHON) -c 'import hashlib,sys;print(hashlib.sha1(open("pyproject.toml","rb").read()).hexdigest()[:12])')

.PHONY: help install node check lint typecheck test unit demo clean

help:
	@echo "make demo   run the demo on the embedded SQLite default (no Node, no cloud)"
	@echo "make test   install everything and run lint, type checks and the whole test suite"
	@echo "make check  ruff + mypy --strict only"
	@echo "make unit   the tests that need neither Node nor Azurite"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

node: node_modules/.package-lock.json

lint: install
	$(VENV)/bin/ruff check queued_jobs tests function_app
	$(VENV)/bin/ruff format --check queued_jobs tests function_app

typecheck: install
	$(VENV)/bin/mypy queued_jobs

check: lint typecheck

test: check node
	$(VENV)/bin/pytest -q

unit: install
	$(VENV)/bin/pytest -q -m "not azurite"

demo: install
	@echo "The demo arrives with the job runner (see CHANGELOG.md). Today: make test."

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
