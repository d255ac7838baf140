# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
SGM_HOME ?= $(CURDIR)/.sgm
export SGM_HOME

STAMP := $(VENV)/.installed
# Label Studio pins its own Django stack, so it lives in a venv of its own.
LS_VENV ?= .venv-labelstudio
LS_VERSION ?= 1.23.2
LS_STAMP := $(LS_VENV)/.installed
export SGM_LABEL_STUDIO_BIN ?= $(abspath $(LS_VENV))/bin/label-studio
# Browser libraries of the web app (htmx, OpenSeadragon, Chart.js, Swagger UI, ReDoc), served locally.
WEB_DIR := sgm_app/web
WEB_STAMP := $(WEB_DIR)/node_modules/.installed

.PHONY: help setup run lint test secrets bench-ingest bench-linking clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test,reference]'
	touch $@

$(LS_STAMP):
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install --quiet --upgrade pip
	$(LS_VENV)/bin/pip install --quiet 'label-studio==$(LS_VERSION)'
	touch $@

$(WEB_STAMP): $(WEB_DIR)/package.json $(WEB_DIR)/package-lock.json
	cd $(WEB_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP) $(LS_STAMP) $(WEB_STAMP)  ## Create the virtual environments and install the platform, Label Studio and web assets

run: setup  ## Set up and start the platform on embedded defaults with a demo corpus
	bash deployments/local/run.sh

lint: $(STAMP)  ## Lint, format check, types, import layers and declared dependencies
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/deptry .

# Two workers; tests sharing a server or corpus stay on one (tests/conftest.py). PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2
test: setup lint  ## Set up, lint and run the whole test suite (SQLite and MariaDB)
	$(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=30 $(PYTEST_ARGS)

secrets:  ## Write the secret files of the Docker Compose deployment (kept if present)
	sh deployments/docker/make-secrets.sh

bench-ingest: setup  ## Header-indexing speed next to dcmdump
	$(VENV)/bin/python bench/ingest.py

bench-linking: setup  ## Linking 18,000 images against 10,000 registry patients
	$(VENV)/bin/python bench/linking.py

clean:  ## Remove the virtual environment (keeps the data folder)
	rm -rf $(VENV) $(LS_VENV) $(WEB_DIR)/node_modules
