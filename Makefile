# The two commands of the README: `make demo` and `make test`.
# Each creates .venv when it is missing and installs what it needs into it.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint typecheck services browser clean

demo: $(VENV)/.installed-demo
	$(VENV)/bin/perfdoctor audit

test: $(VENV)/.installed-test services browser lint typecheck
	$(VENV)/bin/pytest

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests benchmarks

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
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-demo

clean:
	rm -rf $(VENV) .perfdoctor .mypy_cache .pytest_cache .ruff_cache
