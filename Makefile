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
# Seconds of the end-to-end load test (four browser sessions at once); 120 for the two-minute run.
LOAD_SECONDS ?= 60

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
	$(BIN)/python -m ui.serve --server.port $(PORT)

# The unit tests of core/ and ui/ and every page under AppTest: no browser, no subprocess (about 2.5 minutes on 2 cores).
test: $(VENV)/.requirements-dev
	$(BIN)/python -m pytest -m "unit or app" -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# Everything (about 13 minutes on 2 cores): the fast suite and the real processes (command lines, a server,
# the full-size datasets) side by side, then Chromium end to end, one test at a time.
test-all: $(VENV)/.requirements-dev
	$(BIN)/python -m pytest -m "not e2e" -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)
	CNNLAB_LOAD_SECONDS=$(LOAD_SECONDS) $(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache artifacts
