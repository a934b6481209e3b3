# One command per task. `make run` and `make test` work on a fresh clone.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
BUF    := $(VENV)/bin/buf
# Hand-written packages (skinscan_internal/ holds only generated stubs).
PACKAGES := skinscan skinscan_kit skinscan_model skinscan_pipeline skinscan_cli gateway preprocessor inference trainer

# apt-get needs root; a developer who is not root is asked through sudo.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test proto lint unit browser bench soak clean

# Serving needs only the base install; tests also need the trainer and tools.
$(VENV)/.serve-installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

# The training image's install (trainer/Dockerfile): serving plus torch.
$(VENV)/.train-installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[train]'
	touch $@ $(VENV)/.serve-installed

$(VENV)/.dev-installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[train,dev]'
	touch $@ $(VENV)/.serve-installed $(VENV)/.train-installed

run: $(VENV)/.serve-installed
	$(VENV)/bin/skinscan up

# Regenerates every Python stub from protos/ (offline: protoc from grpcio-tools).
proto: $(VENV)/.dev-installed
	$(BUF) generate

# buf breaking: the public API only grows. It is checked against skinscan.v1 as first
# published (commit d4275ba), kept as a buf image so the check needs no git history.
lint: $(VENV)/.dev-installed
	$(BUF) lint
	$(BUF) breaking --against api-baseline/skinscan-v1.binpb
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(PACKAGES) tests

# The web app's browser tests drive Debian's chromium through Playwright, which
# never downloads a browser of its own. The package index is refreshed only if
# the first try cannot find the package.
browser:
	@command -v chromium >/dev/null || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get install -y -q --no-install-recommends chromium || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends chromium; }; }

test: lint browser
	$(PY) -m pytest

# The limit (ONNX Runtime alone, decoding) and the system end to end, in one run;
# the table is printed, the figures are also in bench.json.
bench: $(VENV)/.serve-installed
	$(PIP) install -q -e '.[bench]'
	$(VENV)/bin/skinscan bench --json bench.json

# Thirty minutes at 80% of the measured throughput (SOAK_S=600 for ten); each service's
# RSS growth after warm-up, and the latency percentiles over time.
SOAK_S ?= 1800
soak: $(VENV)/.serve-installed
	$(VENV)/bin/skinscan bench --soak $(SOAK_S) --json soak.json

unit: $(VENV)/.dev-installed
	$(PY) -m pytest tests/unit

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
