# amal-tui: `make run` and `make test` do all the set-up on a fresh machine (Python >= 3.10 and make).
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
PY := $(VENV)/bin/python
# The stamp names the torch asked for, so `make TORCH=...` reinstalls.
STAMP := $(VENV)/.installed-$(subst /,_,$(subst <,_,$(subst >,_,$(subst =,_,$(TORCH)))))
ARGS ?=

# The tests that see the engine's float digits (screens, snapshots, numerics) run a second
# time on the math libraries' generic code paths, as an older or another CPU computes:
# a snapshot that passes only on the CPU it was recorded on fails here, not on the next
# machine.  (MKL_CBWR is MKL's; ATEN_CPU_CAPABILITY is torch's own kernels; a build or a
# CPU without one ignores it.)
OTHER_CPU := MKL_CBWR=COMPATIBLE ATEN_CPU_CAPABILITY=default
ROUNDING_TESTS := tests/tui/test_tui_snapshots.py tests/tui/test_determinism.py \
	tests/engine/test_descent.py tests/engine/test_functions.py tests/engine/test_experiments.py \
	tests/terminal/test_terminal.py::test_the_screen_after_one_step
# Every code path `make crosscheck` runs the whole suite on.
CPU_PATHS := MKL_CBWR=AVX2 MKL_CBWR=COMPATIBLE ATEN_CPU_CAPABILITY=default

.DEFAULT_GOAL := help
.PHONY: help install run test crosscheck bench lint format clean

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
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

test: $(STAMP) ## Check the import contracts, run the whole test suite, then its rounding-sensitive tests as on another CPU
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -n auto
	@echo "== again on generic code paths: $(OTHER_CPU)"
	$(OTHER_CPU) $(PY) -m pytest -q $(ROUNDING_TESTS)

crosscheck: $(STAMP) ## Run the whole suite on each other code path: AVX2, MKL compatible, ATen default
	@set -e; for path in $(CPU_PATHS); do \
		echo "== $$path"; env $$path $(PY) -m pytest -q -n auto; \
	done

bench: $(STAMP) ## Measure speed and memory against their goals
	$(PY) bench/bench.py

lint: $(STAMP) ## Check style with ruff and the layers with import-linter
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check engine tui tests bench
	$(VENV)/bin/ruff format --check engine tui tests bench

format: $(STAMP) ## Format the code with ruff
	$(VENV)/bin/ruff format engine tui tests bench
	$(VENV)/bin/ruff check --fix engine tui tests bench

clean: ## Remove .venv, caches and TensorBoard runs
	rm -rf $(VENV) runs .pytest_cache build *.egg-info
