# The two commands of the README: `make demo` and `make test`.
# Each creates .venv when it is missing and installs what it needs into it.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint typecheck services browser legacy clean

demo: $(VENV)/.installed-demo
	$(VENV)/bin/perfdoctor audit

test: $(VENV)/.installed-test services browser legacy lint typecheck
	$(VENV)/bin/pytest

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests benchmarks
	# The package runs inside apps on Python 3.9+: no newer syntax or standard
	# library (mypy checks no older than 3.10). aiohttp's `sentinel` is not 3.15's.
	$(VENV)/bin/vermin --target=3.9- --violations --no-tips --exclude sentinel --quiet src/perfdoctor

typecheck: $(VENV)/.installed-test
	$(VENV)/bin/mypy

services:
	bash scripts/ensure-services.sh

browser:
	bash scripts/ensure-browser.sh

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "perfdoctor needs Python 3.11 or newer: run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	bash scripts/ensure-build-deps.sh
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-demo

# Older releases the capture side must still read the models of
# (tests/orm/test_catalog_legacy.py): one small venv each, on Python 3.9 when
# there is one (capture code must run there too).
LEGACY_PYTHON ?= $(shell python3.9 -c '' >/dev/null 2>&1 && echo python3.9 || echo $(PYTHON))
# What perfdoctor's capture needs inside an app's own venv (tests/orm/test_fixes_legacy.py
# captures an N+1 on SQLAlchemy 1.4 there): statements are normalised with sqlglot.
CAPTURE_NEEDS := 'sqlglot>=25'
LEGACY_VENVS := .venv-sqlalchemy14 .venv-sqlalchemy13 .venv-django42
.venv-sqlalchemy14/.installed: REQUIREMENT = 'sqlalchemy>=1.4,<2' $(CAPTURE_NEEDS)
.venv-sqlalchemy13/.installed: REQUIREMENT = 'sqlalchemy>=1.3,<1.4' $(CAPTURE_NEEDS)
.venv-django42/.installed: REQUIREMENT = 'django>=4.2,<4.3'

legacy: $(LEGACY_VENVS:%=%/.installed)

$(LEGACY_VENVS:%=%/.installed): Makefile
	$(LEGACY_PYTHON) -m venv $(@D)
	$(@D)/bin/python -m pip install --quiet $(REQUIREMENT)
	touch $@

clean:
	rm -rf $(VENV) $(LEGACY_VENVS) .perfdoctor .mypy_cache .pytest_cache .ruff_cache
