# The local loop. Needs only Rust (cargo) and Python 3 on the machine: everything else is
# installed into .venv / .venv-checkov from the pinned requirements files.
#
#   make demo   build, start the local stack, walk the API over HTTP, stop everything
#   make test   every test: Rust unit + integration (moto), local HTTP end to end, template checks
#   make up     start the local stack and keep it running (make down stops it)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
STACK := $(VENV)/bin/python -m local.stack
# Where `make up` serves the HTTP API and cargo-lambda's Lambda Invoke API.
API_PORT ?= 3000
INVOKE_PORT ?= 9000
export SAM_CLI_TELEMETRY := 0
export CARGO_TERM_COLOR ?= never

.PHONY: demo test test-rust test-python lint up down build venv clean

demo: venv
	$(STACK) run --functions -- $(VENV)/bin/python -m local.demo

test: venv lint
	$(STACK) run --functions -- $(MAKE) --no-print-directory test-rust test-python

# The two halves of `make test`; they expect the environment of a running local stack, which
# `make test` passes them.
test-rust:
	cargo test --workspace --locked

test-python:
	$(VENV)/bin/pytest -q tests

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

up: venv
	$(STACK) up --detach --port $(API_PORT) --invoke-port $(INVOKE_PORT)

down:
	$(STACK) down

# sam build: cargo-lambda cross-compiles for arm64 (Architectures in template.yaml) with zig.
build: venv
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/sam build

venv: $(VENV)/.installed $(CHECKOV_VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# checkov pins libraries that clash with pytest and SAM CLI: it gets its own virtualenv.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

clean:
	rm -rf .aws-sam .local
