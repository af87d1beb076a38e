# `make demo` and `make test` work on a fresh machine: each creates .venv, installs reconwb with its test
# extras, makes sure Playwright has a Chromium, and registers a Jupyter kernel for the venv.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.reconwb-installed
# two workers, one test file each (a file's module fixtures and its order stay together): the suite fits in
# its time on 2 cores; `make test PYTEST_ARGS=` runs it in one process
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: install test demo lint bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m reconwb.browser install
	$(PY) -m ipykernel install --sys-prefix --name reconwb --display-name "reconwb (.venv)" >/dev/null
	@touch $(STAMP)

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check .

test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

demo: install
	$(VENV)/bin/reconwb demo

bench: install
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) data/demo .pytest_cache
