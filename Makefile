# Health-data marketplace: `make run` brings up the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MARKETPLACE_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: run serve test lint drift unit bench-quick provider clean analysis-env translations

# The secure processing environment's analysis environment: a separate venv from Debian's
# Python (readable by the sandbox's unprivileged users), with the published, pinned packages.
ANALYSIS_BASE_PYTHON ?= /usr/bin/python3
ANALYSIS_VENV := .analysis-venv
ANALYSIS_REQUIREMENTS := marketplace/workspace/analysis-requirements.txt
ANALYSIS_STAMP := $(ANALYSIS_VENV)/.installed

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

$(ANALYSIS_STAMP): $(ANALYSIS_REQUIREMENTS)
	test -d $(ANALYSIS_VENV) || $(ANALYSIS_BASE_PYTHON) -m venv $(ANALYSIS_VENV)
	$(ANALYSIS_VENV)/bin/pip install --quiet -r $(ANALYSIS_REQUIREMENTS)
	touch $@

analysis-env: $(ANALYSIS_STAMP)

# Development mail goes to a local SMTP catcher (never a real mailbox); the operator's page
# /notifications/sent lists what was sent, and the catcher keeps each message in instance/dev-mail.
DEV_MAIL := MARKETPLACE_MAIL_SERVER=127.0.0.1 MARKETPLACE_MAIL_PORT=8025

run: $(STAMP) analysis-env
	$(BIN)/marketplace db upgrade
	$(BIN)/marketplace demo
	@$(BIN)/marketplace dev-provider --port 9400 & echo $$! > $(MARKETPLACE_INSTANCE_PATH)/provider.pid
	@$(BIN)/marketplace notifications catcher --port 8025 & echo $$! > $(MARKETPLACE_INSTANCE_PATH)/catcher.pid
	@$(DEV_MAIL) $(BIN)/marketplace notifications send --loop & echo $$! > $(MARKETPLACE_INSTANCE_PATH)/mailer.pid
	@trap 'for p in provider catcher mailer; do kill $$(cat $(MARKETPLACE_INSTANCE_PATH)/$$p.pid) 2>/dev/null; done' EXIT INT TERM; \
	  echo "Open http://127.0.0.1:5000 and sign in as one of the users above (sign-in provider: http://127.0.0.1:9400; mail catcher: 127.0.0.1:8025)"; \
	  $(DEV_MAIL) $(BIN)/marketplace run --host 127.0.0.1 --port 5000

# Style, the architecture's import contracts (pyproject [tool.importlinter]) and types.
lint: $(STAMP)
	$(BIN)/ruff check marketplace tests bench migrations/env.py
	$(BIN)/lint-imports
	$(BIN)/mypy

drift: $(STAMP)
	$(BIN)/python -m marketplace.db_drift

unit: $(STAMP)
	$(BIN)/pytest -m "not browser"

bench-quick: $(STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script --quick || exit 1; done

# The production server (gunicorn, marketplace/ops/gunicorn_config.py) on 127.0.0.1:8000.
serve: $(STAMP)
	$(BIN)/marketplace db upgrade
	$(BIN)/marketplace serve

# The whole suite: lint (ruff, import contracts, mypy), schema drift, unit and PostgreSQL tests
# (when MARKETPLACE_TEST_POSTGRES_URL is set), the API contract (Schemathesis) and the browser
# tests in Debian's Chromium. pytest's exit code 5 (nothing collected) fails the run.
test: $(STAMP) analysis-env lint drift
	$(BIN)/pytest $(PYTEST_ARGS)

# Texts to translate: add new Danish texts from the code and templates to the English catalog
# (marketplace/translations/en/LC_MESSAGES/messages.po) and compile it. The app compiles a catalog
# that is newer than its .mo file by itself, so a fresh clone needs no step of its own.
translations: $(STAMP)
	$(BIN)/python -m marketplace.languages update

clean:
	rm -rf $(VENV) $(ANALYSIS_VENV) .pytest_cache .ruff_cache
