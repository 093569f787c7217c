# amal-tui: `make run` and `make test` do all the set-up on a fresh machine (Python >= 3.10 and make).
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
PY := $(VENV)/bin/python
# Two stamps, each naming the torch asked for (so `make TORCH=...` reinstalls): RUN_STAMP once
# what running needs is installed, DEV_STAMP once the test and lint tools are too.  A dev
# install touches both, so `make test` then `make run` installs nothing more; `make run` then
# `make test` adds the dev tools.
TORCH_TAG := $(subst /,_,$(subst <,_,$(subst >,_,$(subst =,_,$(TORCH)))))
RUN_STAMP := $(VENV)/.installed-run-$(TORCH_TAG)
DEV_STAMP := $(VENV)/.installed-dev-$(TORCH_TAG)
# amal-tui --serve needs textual-serve (the `serve` extra, in dev too): `make run ARGS=--serve`
# installs it the first time; a plain `make run` never does.
SERVE_STAMP := $(VENV)/.installed-serve-$(TORCH_TAG)
RUN_NEEDS := $(RUN_STAMP) $(if $(findstring --serve,$(ARGS)),$(SERVE_STAMP))
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
ARGS ?=

# The tests that see the engine's float digits (screens, snapshots, numerics) run a second
# time on the math libraries' generic code paths, as an older or another CPU computes:
# a snapshot that passes only on the CPU it was recorded on fails here, not on the next
# machine.  (MKL_CBWR is MKL's; ATEN_CPU_CAPABILITY is torch's own kernels; a build or a
# CPU without one ignores it.)
# The snapshots show recorded states that the live engine must agree with: one size of each
# is that check (the other sizes are the same run, drawn wider; `make crosscheck` has them).
OTHER_CPU := MKL_CBWR=COMPATIBLE ATEN_CPU_CAPABILITY=default
SNAPSHOTS := tests/tui/test_tui_snapshots.py
ROUNDING_TESTS := $(foreach test,test_first_screen test_converged_screen test_one_step_screen \
		test_compare_screen,"$(SNAPSHOTS)::$(test)[80x24]") $(SNAPSHOTS)::test_report_screen \
	tests/tui/test_determinism.py \
	tests/engine/test_descent.py tests/engine/test_functions.py tests/engine/test_experiments.py \
	tests/engine/test_sweep.py \
	tests/terminal/test_terminal.py::test_the_screen_after_one_step
# `make test` leaves out the tests marked exhaustive (pyproject.toml, tests/README.md): the
# rest of a product of cases (states × signals, outputs × encodings, fuzz seeds) whose every
# distinct case it runs; `make crosscheck` runs them all.
NOT_EXHAUSTIVE := -m "not exhaustive"
# Every code path `make crosscheck` runs the whole suite on.
CPU_PATHS := MKL_CBWR=AVX2 MKL_CBWR=COMPATIBLE ATEN_CPU_CAPABILITY=default

.DEFAULT_GOAL := help
.PHONY: help install run test crosscheck bench lint format clean mutate i18n

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  variables: TORCH=$(TORCH)  PYTHON=$(PYTHON)  ARGS='options for make run'"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "amal-tui needs Python >= 3.10; this is " + sys.version.split()[0] + " (make PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: the project's own range (torch>=2.1) is then satisfied without a download.
$(RUN_STAMP): pyproject.toml | $(PY)
	rm -f $(VENV)/.installed-*
	$(PIP) "$(TORCH)"
	$(PIP) -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	rm -f $(VENV)/.installed-*
	$(PIP) "$(TORCH)"
	$(PIP) -e ".[dev]"
	touch $@ $(RUN_STAMP) $(SERVE_STAMP)

$(SERVE_STAMP): $(RUN_STAMP)
	$(PIP) -e ".[serve]"
	touch $@

install: $(DEV_STAMP) ## Create .venv and install amal-tui with its test and lint tools

run: $(RUN_NEEDS) ## Open amal-tui, installing only what it needs (options: make run ARGS='--lr 0.5')
	$(VENV)/bin/amal-tui $(ARGS)

test: $(DEV_STAMP) ## Check the import contracts, run the whole test suite, then its rounding-sensitive tests as on another CPU
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -n auto --dist worksteal $(NOT_EXHAUSTIVE)
	@echo "== again on generic code paths: $(OTHER_CPU)"
	$(OTHER_CPU) $(PY) -m pytest -q -n auto --dist worksteal $(NOT_EXHAUSTIVE) $(ROUNDING_TESTS)

crosscheck: $(DEV_STAMP) ## Run the whole suite, its exhaustive tests too, on each other code path: AVX2, MKL compatible, ATen default
	@set -e; for path in $(CPU_PATHS); do \
		echo "== $$path"; env $$path $(PY) -m pytest -q -n auto; \
	done

bench: $(DEV_STAMP) ## Measure speed and memory against their goals
	$(PY) bench/bench.py

# Mutation testing of the engine core ([tool.mutmut] in pyproject.toml says which modules and
# tests): minutes, so not part of `make test`.  From scratch each time (mutants/ is mutmut's
# copy of the code and its cache), one worker per core unless told (make mutate MUTATE_JOBS=1).
MUTATE_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
MUTATE_MIN ?= 90

mutate: $(DEV_STAMP) ## Mutation-test the engine core and print the score per module (minutes; fails under MUTATE_MIN=90%)
	rm -rf mutants
	nice $(VENV)/bin/mutmut run --max-children $(MUTATE_JOBS)
	$(PY) bench/mutation_score.py --min $(MUTATE_MIN)

lint: $(DEV_STAMP) ## Check style with ruff and the layers with import-linter
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check engine tui tests bench
	$(VENV)/bin/ruff format --check engine tui tests bench

format: $(DEV_STAMP) ## Format the code with ruff
	$(VENV)/bin/ruff format engine tui tests bench
	$(VENV)/bin/ruff check --fix engine tui tests bench

# Every _("...") and N_("...") of engine/ and tui/ into the template, each language's .po
# updated from it (new texts empty, to translate), then compiled to the .mo the app reads.
I18N := engine/locales
i18n: $(DEV_STAMP) ## Extract the texts to translate, update each language's .po, compile the .mo files
	$(VENV)/bin/pybabel extract --no-location --sort-output --width 100 -k _ -k N_ -k ngettext:1,2 \
		--project amal-tui --copyright-holder "amal-tui" -o $(I18N)/amal_tui.pot engine tui
	$(VENV)/bin/pybabel update --width 100 --ignore-obsolete -D amal_tui \
		-i $(I18N)/amal_tui.pot -d $(I18N)
	$(VENV)/bin/pybabel compile -D amal_tui -d $(I18N) --statistics

clean: ## Remove .venv, caches and TensorBoard runs
	rm -rf $(VENV) runs .pytest_cache build *.egg-info
