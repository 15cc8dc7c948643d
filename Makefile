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

.PHONY: setup demo test quick bench web clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# pytest exits non-zero (5) when it collects no tests, so an empty run fails here too.
test: setup
	$(PY) -m pytest -q -n 2 --durations=10 tests
	$(VENV)/bin/lint-imports

# The quick subset while working: every family, no training runs or fresh processes; about 2 minutes on 2 cores (goal: under 2).
quick: setup
	$(PY) -m pytest -q -n 2 -m "not slow" tests

# The main job: pictures from every pretrained model, then an int8 VAE decoder exported (calibrated on
# encoder codes of training images plus prior samples) and run in the LiteRT interpreter without TensorFlow.
# Offline, calibration is impossible: it says so in one line and runs the shipped int8 decoder instead.
demo: setup
	$(VENV)/bin/zoo demo --out $(DEMO_OUT)
	@if $(PY) -c "from zoo import data; data.load('mnist')" >/dev/null 2>&1; then \
	  $(PY) -m export vae_mnist --part decoder --format litert --quantize int8 --out $(DEMO_OUT)/export && \
	  $(PY) export/examples/run_decoder.py $(DEMO_OUT)/export/decoder_int8.tflite $(DEMO_OUT)/litert_int8_samples.png --figure; \
	else \
	  echo "note: no MNIST reachable (set ZOO_DATA_DIR): skipping int8 calibration, running the shipped int8 decoder"; \
	  $(PY) export/examples/run_decoder.py saved_models/vae_mnist/exports/decoder_int8.tflite $(DEMO_OUT)/litert_int8_samples.png --figure; \
	fi

# The static page in web/ (serve it with `python -m http.server -d web 8000`): LiteRT.js from npm, pinned by
# web/package-lock.json; the int8 parts exported with a fixed batch of 1 (LiteRT.js refuses a dynamic batch), which
# needs MNIST for the calibration; then the models, LiteRT.js' modules and its WASM runtime copied into web/.
web: setup
	cd web && npm ci --no-audit --no-fund
	$(PY) web/build.py

clean:
	rm -rf $(DEMO_OUT) .pytest_cache web/models web/wasm web/lib web/.export web/node_modules
