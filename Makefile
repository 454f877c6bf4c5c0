# CNN Lab: `make run` starts the app, `make test` runs the fast suite, `make test-all` everything.
# Each creates .venv and installs the pinned requirements on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
# Test processes side by side (pytest-xdist); `make test TEST_WORKERS=0` runs in this process only.
TEST_WORKERS ?= 2
# the slowest tests are listed at the end, to keep the suites' lengths in view
PYTEST_ARGS ?= --durations=15
# Seconds of the end-to-end load test (four browser sessions at once).
LOAD_SECONDS ?= 120

.PHONY: run test test-all clean install install-dev

$(VENV)/.requirements: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "CNN Lab needs Python 3.10 or newer; found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.requirements-dev: requirements-dev.txt $(VENV)/.requirements
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.requirements

install-dev: $(VENV)/.requirements-dev

run: $(VENV)/.requirements
	$(BIN)/python -m streamlit run app.py --server.port $(PORT)

# The unit tests of core/ and ui/ and every page under AppTest: no browser, no subprocess (about 3 minutes on 2 cores).
test: $(VENV)/.requirements-dev
	$(BIN)/python -m pytest -m "unit or app" -n $(TEST_WORKERS) $(PYTEST_ARGS)

# Everything: the fast suite, then the real processes (command lines, a server) and Chromium end to end.
test-all: $(VENV)/.requirements-dev
	$(BIN)/python -m pytest -m "unit or app" -n $(TEST_WORKERS) $(PYTEST_ARGS)
	CNNLAB_LOAD_SECONDS=$(LOAD_SECONDS) $(BIN)/python -m pytest -m "system or e2e" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache artifacts
