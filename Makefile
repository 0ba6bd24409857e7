# `make run` starts the service on http://127.0.0.1:5000 with a local SQLite
# database; `make test` runs the whole suite (set TEST_DATABASE_URL for PostgreSQL).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
DEV_API_KEY ?= dev-key
DEV_ENV := APP_ENV=development DIALER_API_KEYS=$${DIALER_API_KEYS:-$(DEV_API_KEY)}

.PHONY: install run test lint migrate bench clean

install: $(STAMP)

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

migrate: install
	mkdir -p instance
	$(DEV_ENV) $(BIN)/flask --app wsgi db upgrade

# exec: dev_run.py is make's own child, so it (and what it started) stops when make is killed.
run: install
	$(DEV_ENV) exec $(BIN)/python scripts/dev_run.py

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: install
	$(BIN)/python bench/publish.py
	$(BIN)/python bench/status_check.py
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/slow_clients.py
	$(BIN)/python bench/callbacks.py

clean:
	rm -rf $(VENV) .pytest_cache
