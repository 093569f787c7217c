# amal-tui: `make run` and `make test` do all the set-up on a fresh machine (Python >= 3.10 and make).
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
PY := $(VENV)/bin/python
# The stamp names the torch asked for, so `make TORCH=...` reinstalls.
STAMP := $(VENV)/.installed-$(subst /,_,$(subst <,_,$(subst >,_,$(subst =,_,$(TORCH)))))
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test bench lint format clean

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'
	@echo "  variables: TORCH=$(TORCH)  PYTHON=$(PYTHON)  ARGS='options for make run'"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "amal-tui needs Python >= 3.10; this is " + sys.version.split()[0] + " (make PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	rm -f $(VENV)/.installed-*
	$(PY) -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

install: $(STAMP) ## Create .venv and install amal-tui with its test tools

run: $(STAMP) ## Open amal-tui (options: make run ARGS='--lr 0.5')
	$(VENV)/bin/amal-tui $(ARGS)

test: $(STAMP) ## Run the whole test suite
	$(PY) -m pytest -q

bench: $(STAMP) ## Measure speed and memory against their goals
	$(PY) bench/bench.py

lint: $(STAMP) ## Check style with ruff
	$(VENV)/bin/ruff check engine tui tests bench
	$(VENV)/bin/ruff format --check engine tui tests bench

format: $(STAMP) ## Format the code with ruff
	$(VENV)/bin/ruff format engine tui tests bench
	$(VENV)/bin/ruff check --fix engine tui tests bench

clean: ## Remove .venv, caches and TensorBoard runs
	rm -rf $(VENV) runs .pytest_cache build *.egg-info
