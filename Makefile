# polaris-hub-client: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
LINT_DIRS := $(wildcard polaris tests benchmarks examples)

.PHONY: help install test demo bench regen regen-check lint typecheck validate-spec browser clean

help:
	@echo "make demo    - start a local Hub and run examples/quickstart.py (the main job)"
	@echo "make test    - build .venv if needed and run the whole test suite"
	@echo "make bench   - speed/memory benchmarks, as ratios against baselines in the same run"
	@echo "make regen   - regenerate generated/polaris_hub_api from openapi/hub.yaml"
	@echo "make lint    - ruff + mypy --strict + spec validation + regen --check"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,emulator]'
	@touch $(STAMP)

install: $(STAMP)

browser: install
	@scripts/ensure-browser.sh

test: install browser
	$(PY) -m pytest $(PYTEST_ARGS)

demo: install
	$(PY) examples/run_demo.py

bench: install
	$(PY) benchmarks/run_all.py

regen: install
	scripts/regen.sh

regen-check: install
	scripts/regen.sh --check

validate-spec: install
	$(PY) -m openapi_spec_validator openapi/hub.yaml

typecheck: install
	$(VENV)/bin/mypy polaris
	cd generated && ../$(VENV)/bin/mypy --strict polaris_hub_api

lint: install validate-spec regen-check typecheck
	$(VENV)/bin/ruff check $(LINT_DIRS)
	$(VENV)/bin/ruff format --check $(LINT_DIRS)

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache
