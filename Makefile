# queued-jobs: `make demo` runs the product on the embedded SQLite default;
# `make test` installs everything (Python packages, Azurite and axe-core from npm, Debian's
# chromium for the browser tests) and runs the suite.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HASH   := $(shell $(PYTHON) -c 'import hashlib;print(hashlib.sha1(open("pyproject.toml","rb").read()).hexdigest()[:12])')
# One stamp per install: the package alone (the demo), or with the test tools.
BASE   := $(VENV)/.installed-base-$(HASH)
STAMP  := $(VENV)/.installed-test-$(HASH)
WEB_STAMP := $(VENV)/.installed-web-$(HASH)
# checkov (tests/infra) pins many packages (packaging<24, ...), so it gets a venv of its own
# inside $(VENV). Pinned exactly: its rule set changes between releases, and the tests assert
# on what it reports.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV    := $(VENV)/checkov
CHECKOV_STAMP   := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
# The browser tests drive Debian's chromium through Playwright (never a browser Playwright
# downloads: the machines that run them have no internet but the package registries).
CHROMIUM ?= /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help install install-base checkov node browser check lint typecheck test unit demo demo-web bench clean

help:
	@echo "make demo   run the demo on the embedded SQLite default (no Node, no cloud)"
	@echo "make demo-web  the demo in a browser: sample page with the bell, and the dashboard"
	@echo "make test   install everything and run lint, type checks and the whole test suite"
	@echo "make check  ruff + mypy --strict only"
	@echo "make unit   the tests that need neither Node nor Azurite"
	@echo "make bench  benchmarks beside the raw Azure SDK and Redis job queues (~10 min)"

$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	rm -f $(VENV)/.installed-base-*
	touch $@

$(STAMP): $(BASE)
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-test-*
	touch $@

$(CHECKOV_STAMP): | $(BASE)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	rm -f $(CHECKOV_VENV)/.installed-*
	touch $@

install-base: $(BASE)

checkov: $(CHECKOV_STAMP)

install: $(STAMP) $(CHECKOV_STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

node: node_modules/.package-lock.json

browser:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium; }
	@$(CHROMIUM) --version

lint: install
	$(VENV)/bin/ruff check queued_jobs tests function_app benchmarks
	$(VENV)/bin/ruff format --check queued_jobs tests function_app benchmarks

typecheck: install
	$(VENV)/bin/mypy queued_jobs

check: lint typecheck

# Two processes, each given whole test files (each starts its own Azurite when it needs
# one): the suite's fixtures are module- and session-scoped, and stay so.
PYTEST_JOBS ?= 2

test: check node browser
	$(VENV)/bin/pytest -q -n $(PYTEST_JOBS) --dist loadfile

unit: install
	$(VENV)/bin/pytest -q -n $(PYTEST_JOBS) --dist loadfile -m "not azurite"

demo: install-base
	$(VENV)/bin/queued-jobs demo

# The same jobs in a browser: the API, a worker, a sample page with the bell, the dashboard.
$(WEB_STAMP): $(BASE)
	$(PY) -m pip install --quiet -e '.[web]'
	rm -f $(VENV)/.installed-web-*
	touch $@

demo-web: $(WEB_STAMP)
	$(VENV)/bin/queued-jobs serve --demo

bench: install node browser
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
