# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
SGM_HOME ?= $(CURDIR)/.sgm
export SGM_HOME

STAMP := $(VENV)/.installed

.PHONY: help setup run test bench-ingest bench-linking clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

setup: $(STAMP)  ## Create the virtual environment and install the platform

run: setup  ## Set up and start the platform on embedded defaults with a demo corpus
	bash deployments/local/run.sh

test: setup  ## Set up and run the whole test suite (SQLite and MariaDB)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench-ingest: setup  ## Header-indexing speed next to dcmdump
	$(VENV)/bin/python bench/ingest.py

bench-linking: setup  ## Linking 18,000 images against 10,000 registry patients
	$(VENV)/bin/python bench/linking.py

clean:  ## Remove the virtual environment (keeps the data folder)
	rm -rf $(VENV)
