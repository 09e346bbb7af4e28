# Every target installs what it needs into .venv first, so each works on a fresh machine.
PY ?= python3
# bash, for `set -o pipefail` in the demo (a pipe into `tail` must not hide a failure).
SHELL := bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo check lint test test-fast clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# llama.cpp is compiled for a portable CPU level, not for the building CPU ("native"):
# a native build used instructions this kind of machine advertises but cannot run
# (AMX/AVX-512: SIGILL in the first decode), and pip's wheel cache would hand such a
# build to the next install, hence its own uncached step first.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF$(if $(filter x86_64,$(shell uname -m)), -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON)
LLAMA_SPEC := llama-cpp-python>=0.3.16,<0.4

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet --no-cache-dir "$(LLAMA_SPEC)"
	$(BIN)/pip install --quiet -e ".[dev,local,serve,ray]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install summarizer with the dev, local, serve and ray extras

# The offline default needs no extra: the demo installs the core package only (no
# llama.cpp compile), unless everything is there already.
CORE_STAMP := $(VENV)/.core
$(CORE_STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(CORE_STAMP)

demo: $(CORE_STAMP) ## Install, summarize the seed article offline, score the default against the lead baseline
	$(BIN)/summarizer summarize seeds/trump-putin-call.txt --format markdown
	@echo
	@echo "The offline default on evals/wikinews, beside the no-model lead baseline:"
	@set -o pipefail; $(BIN)/summarizer eval run -d evals/wikinews --out .demo-eval --gate-floor \
		2>.demo-eval.log | tail -n 8 || { cat .demo-eval.log; exit 1; }

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The tests that need no embedded model run on 2 processes (pytest-xdist; a file's tests
# stay together, so its fixtures are made once); the embedded model's run alone, after:
# two llama.cpp processes on 2 cores starve each other.
XDIST := -n 2 --dist loadfile

test: $(STAMP) ## The whole test suite, including the real embedded model
	$(BIN)/pytest $(XDIST) -m "not local_model"
	$(BIN)/pytest -m local_model

test-fast: $(STAMP) ## Tests without the embedded model
	$(BIN)/pytest $(XDIST) -m "not local_model"

check: lint test ## What CI runs: lint, then the whole suite

clean: ## Remove .venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist build
