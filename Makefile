# The local loop. Needs only Rust (cargo) and Python 3 on the machine: everything else is
# installed into .venv / .venv-checkov from the pinned requirements files.
#
#   make demo   build, start the local stack, walk the API over HTTP, stop everything
#   make test   every test: Rust unit + integration (moto), local HTTP end to end, template checks
#   make up     start the local stack and keep it running (make down stops it); a saved edit to a
#               function is rebuilt and served on its next request
#   make bench  cold start (plain and over TLS), size, handler cost (times and instruction counts),
#               build times; rewrites BENCHMARKS.md
#   make fuzz   the fuzz tests of every handler, 100,000 cases each (make test runs 256)
#   make load   10,000 jobs and a fan-out with injected faults; checks nothing lost or duplicated
#   make sam-local  sam build, then every sample event through SAM's emulator in Docker (needs Docker)
#   make sam-invoke FN=OrdersApiFunction EVENT=events/orders-api/create-order.json
#               sam build, then one `sam local invoke` of that function with that event (needs Docker)
#   make deploy-rehearsal  sam build, then sam package/deploy of template.yaml to a CloudFormation on
#               loopback (moto), the local tests' checks against what was deployed, each AuthMode, sam delete
#   make replay FROM=2026-12-08T09:00:00Z TO=2026-12-08T10:00:00Z [RULES="LargeOrdersReviewRule"] [STACK_NAME=<name>]
#               replay a window of the domain bus's archive to its rules (the local stack, or a deployed one)
#   make template   compose template.yaml from functions/shared.yaml and functions/<pattern>/template.yaml
#   make starter PATTERNS="async" NAME=my-jobs DEST=../my-jobs
#               a new project of those patterns (sync async fanout realtime callbacks events, or all)
#   make test-starters  every pattern set as a project of its own, through its own make test

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
BENCH_VENV := .venv-bench
STARTER_VENV := .venv-starter
STACK := $(VENV)/bin/python -m tools.local.stack
# Where `make up` serves the HTTP API, cargo-lambda's Lambda Invoke API and the WebSocket API.
API_PORT ?= 3000
INVOKE_PORT ?= 9000
WS_PORT ?= 3001
# Local-stack builds (tests, demo, load) compile in the local-only switches (fault injection,
# loopback callbacks); sam build and every deployed binary do not (nor make bench in the kit).
LOCAL_FEATURES := --features lambda-kit/local
export SAM_CLI_TELEMETRY := 0
export CARGO_TERM_COLOR ?= never

.PHONY: demo test test-rust test-python lint lint-bench up down build sam-local sam-invoke deploy-rehearsal replay bench fuzz load template starter test-starters venv clean

demo: venv
	$(STACK) run --functions -- $(VENV)/bin/python -m tools.local.demo

test: venv lint
	$(STACK) run --functions -- $(MAKE) --no-print-directory test-rust test-python

# The two halves of `make test`; they expect the environment of a running local stack, which
# `make test` passes them. Plain `cargo test` runs every test that needs no local AWS and lists
# the others as ignored ("needs the local AWS (moto)"); here they run too (the sam-local
# fixtures, which only put state in place, stay for make sam-local).
test-rust:
	cargo test --locked $(LOCAL_FEATURES) -- --include-ignored --skip sample_event_fixtures

test-python:
	$(VENV)/bin/pytest -q tests functions

lint:
	cargo fmt --all --check
	cargo clippy --all-targets --locked $(LOCAL_FEATURES) -- -D warnings
	cargo clippy --locked -- -D warnings

# The benchmarks' crates are checked on their own: built with the functions, their dependencies
# would change the features, and so the build, of everything the functions share.
lint: lint-bench
lint-bench:
	cargo clippy --package handler-cost --package hello-floor --all-targets --locked -- -D warnings

up: venv
	$(STACK) up --detach --port $(API_PORT) --invoke-port $(INVOKE_PORT) --ws-port $(WS_PORT)

down:
	$(STACK) down

# The root template.yaml is composed from the patterns' templates (tools/starter/template.py); edit those,
# then run this. make test fails while template.yaml and they disagree.
template: venv
	$(VENV)/bin/python -m tools.starter.template

# A new project: the chosen patterns and what they require, standalone (tools/starter/starter.py).
# CARGO_LAMBDA_TEMPLATE=1 writes it as a `cargo lambda new --template` folder as well.
# Needs only cargo and Python 3 with PyYAML: the system's Python if it has PyYAML, else a
# virtualenv of PyYAML alone (requirements-starter.txt); none of the test tools.
starter:
	@test -n "$(PATTERNS)" -a -n "$(NAME)" -a -n "$(DEST)" || { echo 'usage: make starter PATTERNS="sync async ..." NAME=<project> DEST=<folder>' >&2; exit 2; }
	@if $(PYTHON) -c 'import yaml' 2>/dev/null; then python=$(PYTHON); \
	else $(MAKE) --no-print-directory $(STARTER_VENV)/.installed && python=$(STARTER_VENV)/bin/python; fi; \
	$$python -m tools.starter.starter --patterns $(PATTERNS) --name $(NAME) --dest $(DEST) $(if $(CARGO_LAMBDA_TEMPLATE),--cargo-lambda-template)

# Each pattern set (sync; async; fanout; realtime; callbacks; all) made into a project in a
# temporary folder, git-initialised, through its own make test (and make demo for async and all),
# sharing this workspace's target dir and virtualenvs (tools/starter/test_starters.py).
test-starters: venv
	$(VENV)/bin/python -m tools.starter.test_starters $(STARTER_ARGS)

# sam build: cargo-lambda cross-compiles for arm64 (Architectures in template.yaml) with zig.
build: venv
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/sam build

# The third use of the kit: the artifacts `sam build` made, run by SAM's own emulator in Docker
# (`sam local invoke`, `start-lambda`, `start-api`), every sample event checked against
# tests/expected/. Needs a running Docker engine (and, for arm64 on x86_64, qemu's binfmt
# emulator); installs nothing. See tools/sam_local/sam_local.py.
sam-local: venv
	$(VENV)/bin/python -m tools.sam_local.sam_local --preflight
	$(MAKE) --no-print-directory build
	$(VENV)/bin/python -m tools.sam_local.sam_local

# One event under SAM's emulator, as a SAM user runs it, with make sam-local's preparation (the
# base image, a local AWS on the Docker bridge with the samples' fixtures) and clean-up.
sam-invoke: venv
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo 'usage: make sam-invoke FN=<LogicalId> EVENT=events/<function>/<case>.json' >&2; exit 2; }
	$(VENV)/bin/python -m tools.sam_local.sam_local --preflight
	$(MAKE) --no-print-directory build
	$(VENV)/bin/python -m tools.sam_local.sam_local --invoke $(FN) $(EVENT)

# Event-driven choreography: a window of the bus's archive sent again to its rules (tools/events/replay.py).
replay: venv
	@test -n "$(FROM)" -a -n "$(TO)" || { echo 'usage: make replay FROM=<ISO time> TO=<ISO time> [RULES="<rule logical id> ..."] [STACK_NAME=<deployed stack>]' >&2; exit 2; }
	$(VENV)/bin/python -m tools.events.replay --from $(FROM) --to $(TO) $(if $(RULES),--rules $(RULES)) $(if $(STACK_NAME),--stack $(STACK_NAME))

# A deploy, rehearsed offline (tools/rehearsal/rehearsal.py): no Docker, no AWS account.
deploy-rehearsal: venv
	$(MAKE) --no-print-directory build
	$(VENV)/bin/python -m tools.rehearsal.rehearsal

# The long fuzz run: every function's tests/fuzz.rs with FUZZ_CASES cases per property (the
# short run is part of make test). No local stack needed: the fuzzed handlers run on in-memory
# stand-ins of their own ports.
FUZZ_CASES ?= 100000
fuzz:
	PROPTEST_CASES=$(FUZZ_CASES) RUST_BACKTRACE=0 cargo test --locked $(LOCAL_FEATURES) --profile fuzz --test fuzz -- --test-threads 2

# The load run: a local stack with fault injection on (10 % of SQS records fail their first
# delivery, every 50th batch is dropped mid-flight), LOAD_JOBS jobs through the API. See tools/load/load.py.
# The local pollers' visibility timeout goes from 1 s (quick retries for the tests) to 65 s: above
# the job worker's 60 s lease outside Lambda (cargo-lambda passes no usable deadline), as the
# template keeps the queue's 180 s above the function's timeout. Shorter, a job whose final write
# failed would come back while its lease holds, be refused five times, and end in the DLQ.
LOAD_JOBS ?= 10000
load: venv
	LOCAL_FAULT_TRANSIENT_RATE=0.1 LOCAL_POLLER_DROP_EVERY=50 LOCAL_SQS_VISIBILITY_TIMEOUT=65 LOAD_JOBS=$(LOAD_JOBS) \
		$(STACK) run --functions -- $(VENV)/bin/python -m tools.load.load

# Benchmarks are not tests: nothing here is asserted. BENCH_ARGS passes options to bench/run.py
# (--runs N, --reuse-build, --quick).
bench: venv $(BENCH_VENV)/.installed
	rustup target add aarch64-unknown-linux-gnu
	$(VENV)/bin/python -m bench.run $(BENCH_ARGS)

venv: $(VENV)/.installed $(CHECKOV_VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(STARTER_VENV)/.installed: requirements-starter.txt
	$(PYTHON) -m venv $(STARTER_VENV)
	$(STARTER_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-starter.txt
	touch $@

# checkov pins libraries that clash with pytest and SAM CLI: it gets its own virtualenv.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

# The Python peer of the cold-start benchmark runs as a Python Lambda would: its own interpreter
# environment with the runtime interface client and boto3.
$(BENCH_VENV)/.installed: bench/python-peer/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/python-peer/requirements.txt
	touch $@

clean:
	rm -rf .aws-sam .local
