# The two commands of the README: `make demo` and `make test`.
# Each creates .venv when it is missing and installs what it needs into it.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint typecheck services browser matrix-envs matrix clean

demo: $(VENV)/.installed-demo
	$(VENV)/bin/perfdoctor audit

# The suite's files shared out over the CPUs (at most 4): each file's tests stay
# together in one worker, in their order, as they run alone.
test: $(VENV)/.installed-test services browser matrix-envs lint typecheck
	$(VENV)/bin/pytest -n auto --maxprocesses 4 --dist loadfile

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

# The version matrix (tests/matrix/envs.py): old and new apps, each in a venv of
# its own under .venv-matrix/ (pythonX.Y from PATH or pyenv). `make test` builds
# and runs the default ones (one old and one new per framework), `make matrix`
# all of them; PERFDOCTOR_MATRIX=name,name picks others. A venv is rebuilt only
# when its pins change.
matrix-envs: $(VENV)/.installed-test
	$(PY) scripts/matrix.py

matrix: $(VENV)/.installed-test services
	PERFDOCTOR_MATRIX=all $(PY) scripts/matrix.py
	PERFDOCTOR_MATRIX=all $(VENV)/bin/pytest tests/matrix tests/orm/test_catalog_legacy.py tests/orm/test_fixes_legacy.py

clean:
	rm -rf $(VENV) .venv-matrix .perfdoctor .mypy_cache .pytest_cache .ruff_cache
