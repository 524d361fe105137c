# Ops Portal. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# One worker per core (at most 8: each gets its own Redis database); a module stays on one
# worker so module-wide fixtures (the API contract's demo data) load once.
PYTEST_PARALLEL ?= -n auto --maxprocesses 8 --dist loadfile

.DEFAULT_GOAL := help
.PHONY: help install run test lint format check-deploy bench lock clean docs docs-serve docs-screenshots

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Ops Portal needs Python 3.11 or newer, found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the pinned dependencies

run: $(STAMP) ## Migrate, load demo data, start web + Celery worker + beat (+ Redis if REDIS_URL is unset)
	$(PY) -m devtools.launcher

test: $(STAMP) ## ruff, makemigrations --check, the whole pytest suite, then the docs build (strict)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m devtools.embedded_redis -- $(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)
	$(MAKE) --no-print-directory docs

# The docs build uses the browser journeys' latest screenshots (test-artifacts/screenshots/)
# in place of the committed ones in docs/img/screens/, renders the API reference from the live OpenAPI schema and checks the configuration
# reference against the settings the code reads (devtools/mkdocs_hooks.py). Strict: any
# warning - a broken link or anchor, a page missing from the nav, an undocumented setting -
# fails it.
docs: $(STAMP) ## Build the docs site into site/ (strict: any warning fails)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --clean

docs-screenshots: ## Copy the last test run's screenshots into docs/img/screens/ (to commit them)
	$(PY) -m devtools.mkdocs_hooks

docs-serve: $(STAMP) ## Preview the docs on http://127.0.0.1:8001/ with live reload
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --strict --dev-addr 127.0.0.1:8001

lint: $(STAMP) ## ruff lint only
	$(VENV)/bin/ruff check .

format: $(STAMP) ## Format and autofix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP) ## Run every benchmark in benchmarks/ and print its figures
	$(PY) -m devtools.embedded_redis -- $(PY) benchmarks/run.py

lock: ## Re-resolve pyproject.toml dependencies into requirements.lock
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	$(PYTHON) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > .lock-venv/requirements.in
	.lock-venv/bin/pip install --quiet -r .lock-venv/requirements.in
	( echo "# Pinned by 'make lock' from pyproject.toml; 'make' installs exactly this."; .lock-venv/bin/pip freeze --exclude-editable ) > requirements.lock
	rm -rf .lock-venv

clean: ## Remove .venv, caches and the local SQLite database
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles var site
