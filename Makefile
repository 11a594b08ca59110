# The README's two commands. Each does all of its own setup on a fresh Linux machine with Python 3.11+.
# The distribution's CPython when it is 3.11 or newer and can make a venv: Debian and Ubuntu build it
# with profile-guided and link-time optimization, which a default pyenv or source build leaves out,
# and it composes posts about 15-20% faster (bench/compose.py). Otherwise the python3 on the PATH;
# `make PYTHON=python3.12 test` picks another one.
SYSTEM_PYTHON := /usr/bin/python3
PYTHON ?= $(shell $(SYSTEM_PYTHON) -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo $(SYSTEM_PYTHON) || echo python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench golden

run: $(VENV)/.installed  ## install, then run the scheduler, worker and preview on the example project
	$(BIN)/shortline run

test: $(VENV)/.dev-installed  ## install the dev dependencies, then run the whole test suite and the linters
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(VENV)/.dev-installed  ## every benchmark: tables of medians and ratios to their targets
	for script in run compose breaker counting cards publish deliveries web; do $(BIN)/python bench/$$script.py || exit 1; done

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

golden: $(VENV)/.dev-installed  ## regenerate every golden file; review the diff before committing
	SHORTLINE_UPDATE_GOLDEN=1 $(BIN)/pytest tests/golden
