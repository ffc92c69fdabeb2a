# impulse-stream: every target installs what it needs (venv, Kafka jars, redis-server).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
LINT_PATHS := src tests setup.py $(wildcard bench scripts)
CORE_BUILT := $(VENV)/.core-built
# The compiled core (mypyc, setup.py) is rebuilt whenever a core source changes.
CORE_SOURCES := $(shell find src/impulse_stream/core -name '*.py') setup.py

.PHONY: help venv system-deps build-deps prometheus-deps browser-deps infra-up infra-down infra-status test test-unit test-integration \
        lint typecheck demo worker bench bench-full profile bench-prototype native bench-native soak clean

help:
	@echo "make demo             run the worked example on local Kafka + Redis"
	@echo "make test             lint, type-check and run every test (starts Kafka + Redis)"
	@echo "make test-unit        the pure tests only (no Kafka, no Redis)"
	@echo "make bench            throughput, latency and memory benchmarks (bench/), 6-7 min"
	@echo "make bench-full       the same with the opt-in groups (worker variants, latency-wait)"
	@echo "make profile          py-spy profiles of a worker and a backtest (bench/profile.py)"
	@echo "make bench-prototype  the prototypes of bench/prototypes/ against the shipped worker"
	@echo "make native           build the native batch-call prototype into the venv (cargo)"
	@echo "make bench-native     its property test, then native vs Python side by side"
	@echo "make soak             long fault tests (kill -9, restarts, rebalances)"
	@echo "make infra-up|infra-down|infra-status   local Kafka (KRaft) + redis-server"

$(STAMP): pyproject.toml constraints.txt | build-deps
	@command -v $(PYTHON) >/dev/null || { echo "python3 (3.11) is required"; exit 2; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "impulse-stream needs Python 3.11, found $$($(PYTHON) --version)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# The dependencies (and dev extras) only: the package itself is built below.
	$(PY) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
		print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' \
		> $(VENV)/requirements.txt
	$(PY) -m pip install -q -c constraints.txt -r $(VENV)/requirements.txt
	@touch $(STAMP)

# Installing the package (editable) compiles the core in place, about a minute; again
# whenever a core source changes.
$(CORE_BUILT): $(STAMP) $(CORE_SOURCES)
	$(PY) -m pip install -q --no-deps -c constraints.txt -e .
	@touch $(CORE_BUILT)

venv: $(CORE_BUILT)

# gcc and the Python headers compile the core with mypyc; gcc comes from Debian when
# missing, the headers with it for Debian's python3. IMPULSE_STREAM_INTERPRETED=1 skips
# compiling (and this check): the core then runs interpreted, about 1.6x slower.
build-deps:
	@[ "$$IMPULSE_STREAM_INTERPRETED" = 1 ] || command -v gcc >/dev/null || { \
		echo "installing gcc from Debian (compiles the decision core with mypyc)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc libc6-dev; }
	@[ "$$IMPULSE_STREAM_INTERPRETED" = 1 ] || $(PYTHON) -c 'import os, sys, sysconfig; \
		sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' || { \
		echo "installing the Python headers from Debian (python3-dev)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-dev; }

# Java 17 and Maven fetch and run the Kafka broker; Prometheus checks and evaluates the
# alert rules; Chromium and its driver run the desk's browser tests. All come from Debian
# when missing.
system-deps: prometheus-deps build-deps browser-deps
	@command -v java >/dev/null && command -v mvn >/dev/null || { \
		echo "installing Java 17 and Maven from Debian"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless maven; }

browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		echo "installing Chromium and chromedriver from Debian (the desk's browser tests)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends chromium chromium-driver; }

# promtool checks and unit-tests the alert rules; the server runs in the alert test.
# The package's own service is irrelevant: tests start their own process and port.
prometheus-deps:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
		echo "installing Prometheus (server and promtool) from Debian"; \
		apt-get update -q && { apt-cache policy prometheus | grep -q 'Candidate: [0-9]' || { \
			echo "no prometheus package in the apt sources (Debian main has it)"; exit 2; }; } && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus; }

infra-up: venv system-deps
	$(VENV)/bin/impulse-stream infra up
infra-down: venv
	$(VENV)/bin/impulse-stream infra down
infra-status: venv
	$(VENV)/bin/impulse-stream infra status

lint: venv
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	@# The layering contracts of docs/ARCHITECTURE.md ([tool.importlinter] in pyproject.toml).
	$(VENV)/bin/lint-imports --no-cache --no-logo

typecheck: venv
	$(VENV)/bin/mypy

test: venv native system-deps lint typecheck
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

test-unit: venv prometheus-deps
	$(VENV)/bin/pytest -q tests/unit $(PYTEST_ARGS)

demo: venv system-deps
	$(VENV)/bin/impulse-stream demo

worker: venv
	$(VENV)/bin/impulse-stream worker

# BENCH_ARGS: more options of bench/run.py, e.g. BENCH_ARGS="--events 200000 --record".
BENCH_ARGS ?=
bench: venv system-deps
	$(PY) -m bench.run $(BENCH_ARGS)

# Every group, the opt-in ones too: the worker on asyncio and on Faust's consumer, and the
# latency with the clock's old 2 s wait (docs/bench.md).
bench-full: venv system-deps
	$(PY) -m bench.run --only all $(BENCH_ARGS)

# py-spy (dev extras) on a worker draining the bench workload and on the backtest bench:
# top frames by own time in bench/results/profile/ (docs/bench.md, "towards 0.5x").
profile: venv system-deps
	$(PY) -m bench.profile

# The prototypes of bench/prototypes/ against the shipped worker, side by side in one run.
bench-prototype: venv system-deps
	$(PY) -m bench.prototypes.measure

# The native batch-call prototype (bench/prototypes/native, Rust + PyO3), built by maturin
# into the venv from the committed Cargo.lock (maturin comes with the dev extras; the
# compiled core is not needed to build it); docs/bench.md, "The native batch call".
NATIVE := bench/prototypes/native
NATIVE_ARGS ?=
# rustup installs cargo into ~/.cargo/bin, which a non-login shell may not have on its PATH.
CARGO_PATH := $(PATH):$(HOME)/.cargo/bin
native: $(STAMP)
	@PATH="$(CARGO_PATH)"; command -v cargo >/dev/null || { echo "make native needs cargo (Rust, https://rustup.rs)"; exit 2; }
	cd $(NATIVE) && PATH="$(CARGO_PATH)" VIRTUAL_ENV=$(CURDIR)/$(VENV) $(CURDIR)/$(VENV)/bin/maturin develop \
		--release --locked --quiet

bench-native: venv native
	$(VENV)/bin/pytest -q tests/prototypes/test_native_batch.py
	$(PY) -m bench.prototypes.native_measure $(NATIVE_ARGS)

soak: venv system-deps
	IMPULSE_STREAM_SOAK_CUSTOMERS=50000 $(VENV)/bin/pytest -q -m slow tests/integration $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis var build
	find src -name '*.so' -delete
