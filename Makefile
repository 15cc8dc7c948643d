# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and install the pins first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DEMO_OUT ?= demo_out
export TF_CPP_MIN_LOG_LEVEL ?= 3
# Use the shared offline data when it sits beside the checkout and nothing else was chosen.
ifeq ($(ZOO_DATA_DIR),)
ifneq ($(wildcard ../shared/data/mnist.npz),)
export ZOO_DATA_DIR := $(abspath ../shared/data)
endif
endif

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# pytest exits non-zero (5) when it collects no tests, so an empty run fails here too.
test: setup
	$(PY) -m pytest -q tests

demo: setup
	$(PY) -m zoo demo --out $(DEMO_OUT)

clean:
	rm -rf $(DEMO_OUT) .pytest_cache
