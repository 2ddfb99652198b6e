# cdrcap: every target bootstraps what it needs on a fresh machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
EMU_VENV := .venv-emu
BIN := $(VENV)/bin
# The emulator pins botocore, which would pull the project's boto3 down, so it lives in its own venv.
MINISTACK_VERSION := 1.5.33
export CDRCAP_MINISTACK_BIN ?= $(CURDIR)/$(EMU_VENV)/bin/ministack

.PHONY: all venv emulator test unit functional e2e demo screenshot bench bench-long lint fmt clean

all: lint test

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $@

$(EMU_VENV)/.installed:
	$(PYTHON) -m venv $(EMU_VENV)
	$(EMU_VENV)/bin/pip install -q --upgrade pip
	$(EMU_VENV)/bin/pip install -q 'ministack==$(MINISTACK_VERSION)'
	touch $@

venv: $(BIN)/.installed
emulator: $(EMU_VENV)/.installed

# The functional and e2e tests start their own emulator on a free loopback port (tests/conftest.py).
test: venv emulator
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest -m unit

functional: venv emulator
	$(BIN)/pytest -m functional

e2e: venv emulator
	$(BIN)/pytest -m e2e

# Exit 1 means the run went end to end and its verdict is negative (the SLO or a sink's default quota is
# missed at the design rate): the demo has done its job and says so; a crash or bad input (2) fails make.
demo: venv emulator
	@$(BIN)/cdrcap run --target local --profile demo; status=$$?; \
	if [ $$status -eq 1 ]; then echo "make demo: the run completed; its plan misses the SLO or a default quota at the design rate (exit 1): see runs/latest/report.md"; fi; \
	[ $$status -le 1 ]

# The README's picture: the first screen of runs/latest's report (re-rendered) at 1200 px, headless Chromium.
screenshot: venv
	$(BIN)/python -m reports.screenshot runs/latest --out docs/img/report.png --width 1200 --height 900

bench: venv emulator
	$(BIN)/python -m tests.benchmarks

bench-long: venv emulator
	$(BIN)/python -m tests.benchmarks --long

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/cfn-lint infra/*.yaml
	$(BIN)/python -m infra.scan --bootstrap infra/*.yaml

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(EMU_VENV) .venv-scan .mypy_cache .ruff_cache .pytest_cache *.egg-info
