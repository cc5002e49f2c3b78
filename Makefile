# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
MODELS_DIR ?= var/models

.PHONY: install weights chromium run test stop bench clean-var

$(STAMP): requirements.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	$(PIP) install --quiet --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

install: $(STAMP)

# Converts the shipped TensorFlow graph to PyTorch/ONNX once, cached with its SHA-256; exports MTCNN's
# three networks to ONNX; quantises the optional int8 embedder (calibrated on ../shared/data's LFW, skipped
# with a warning without it); installs the liveness (MiniFASNet) weights from ../shared/models/antispoof,
# SHA-256 checked, with their ONNX exports.
weights: install
	$(PY) -m recognition.pipeline.weights --models-dir $(MODELS_DIR)

run: weights
	$(PY) -m facerec_site.run

# Browser tests (tests/browser) drive Debian's Chromium through Playwright; no browser download.
chromium:
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y --no-install-recommends chromium)

test: weights chromium
	$(PY) -m pytest

# Stops the embedded PostgreSQL and Valkey of this checkout (make run stops its own).
stop:
	$(PY) -m facerec_site.embedded stop
