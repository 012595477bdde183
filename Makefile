# One entry point for set-up, the main job, tests and the benchmark. Every target installs what it needs
# on first use, with uv from the same lock (constraints.txt): `make synth` the app and its gates
# (requirements-synth.txt), `make test` and the rest everything (requirements-dev.txt); and the CDK CLI and
# Node.js LTS pinned in package.json.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The pinned Node.js LTS and CDK CLI come first, so jsii and cdk never run on an end-of-life Node.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
# Nothing here may reach AWS: no instance-metadata probing for credentials, no telemetry.
export AWS_EC2_METADATA_DISABLED := true
export CDK_DISABLE_CLI_TELEMETRY := true
export SAGEMAKER_DISABLE_TELEMETRY := true
# Python keeps the bytecode it compiles (__pycache__, in the venv and here): each process of a run (both pytest
# workers, every app.py synth, cfn-lint, checkov) then loads botocore, aws_cdk, moto and the rest instead of
# compiling them from source again. An environment with PYTHONDONTWRITEBYTECODE set (this one's CI has it) made
# every process compile: 9 of the 16 s of one Lambda test file; the suite's CPU time is in README "Development".
unexport PYTHONDONTWRITEBYTECODE
ENV ?=
# Extra CDK CLI arguments, e.g. CDK_ARGS='-c approved_models=approved-models.json'.
CDK_ARGS ?=
CDK_CONTEXT := $(if $(ENV),-c env=$(ENV)) $(CDK_ARGS)

.PHONY: help deps synth-deps check synth test lint ls local-run bench mutate mutate-lambda lock clean checkov integ-snapshots integ preflight
# What synth imports and runs (the app, its libraries, the scripts and rules around it).
APP_CODE := app.py mlops_config mlops_constructs stacks pipeline_defs scripts cfn_rules
# checkov pins an old boto3: it lives in its own venv, never in .venv (defined here: `test` depends on it).
CHECKOV_VENV := .venv-checkov

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# uv installs the pinned sets in seconds (pip took minutes). It is bootstrapped once, pinned, into a venv of its
# own under build/ (outside .venv, so the project's venv holds only the project's packages). uv reads PyPI
# (https://pypi.org/simple) unless UV_INDEX_URL or uv.toml say otherwise; it ignores pip.conf.
UV_VERSION := 0.13.9
UV_HOME := build/uv
UV := $(UV_HOME)/bin/uv
# Use the interpreter given (PYTHON), never one uv would download.
export UV_PYTHON_DOWNLOADS := never
UV_INSTALL = $(UV) pip install --quiet --python $(PY) -c constraints.txt

$(UV_HOME)/bin/uv:
	rm -rf $(UV_HOME) && $(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/bin/python: | $(UV)
	$(UV) venv --quiet --python $(PYTHON) $(VENV)

# What `make synth` needs: the app's runtime and the gates around synth.
$(VENV)/.synth-installed: requirements.txt requirements-synth.txt synth-excludes.txt constraints.txt | $(VENV)/bin/python
	$(UV_INSTALL) --excludes synth-excludes.txt -r requirements-synth.txt
	touch $@

# Everything: tests, local runs, the benchmark (a superset of the synth set). The venv becomes exactly the lock:
# sync also removes what the lock no longer has (an old venv's GPU xgboost and its NVIDIA libraries).
$(VENV)/.installed: requirements.txt requirements-synth.txt requirements-dev.txt constraints.txt | $(VENV)/bin/python
	$(UV) pip sync --quiet --python $(PY) constraints.txt
	$(UV_INSTALL) -r requirements-dev.txt
	touch $(VENV)/.synth-installed $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps: $(VENV)/.installed node_modules/.installed  ## create the venv and install the pinned CLI

synth-deps: $(VENV)/.synth-installed node_modules/.installed

check: synth-deps  ## the gates synth runs first: ruff (lint and format) over all code, mypy over the app's code
	ruff check .
	ruff format --check .
	mypy $(APP_CODE)

lint: deps check  ## every gate: `check`, and mypy over tests, benchmark, pre-flight, integration tests and each Lambda
	mypy $(APP_CODE) tests bench preflight
	@# The integration tests run from integ/ (integ-runner's layout) and import their helpers from there.
	cd integ && MYPYPATH=.:.. mypy --config-file $(CURDIR)/pyproject.toml *.py
	@# Each Lambda function is its own top-level package at run time, so it is type-checked from its folder.
	for function in lambda/*/; do (cd "$$function" && MYPYPATH=. mypy --config-file $(CURDIR)/pyproject.toml *.py); done

synth: check  ## main job: synthesize every environment (ENV=name for one) with cdk-nag, cfn-lint and a summary
	rm -rf cdk.out
	cdk synth --quiet $(CDK_CONTEXT)
	$(PY) scripts/synth_report.py cdk.out

ls: synth-deps  ## list the stacks of every environment
	cdk ls $(CDK_CONTEXT)

test: deps $(CHECKOV_VENV)/.installed  ## run the test suite (checkov runs from its own venv, see `make checkov`)
	$(PY) -m pytest -n 2 --dist worksteal -q

MODEL ?= breast-cancer
local-run: deps  ## run a sample model's preprocess -> train -> evaluate locally on its bundled dataset (MODEL=breast-cancer|diabetes)
	$(PY) -m pipeline_defs.local_run --model $(MODEL)

bench: deps  ## benchmark synth time, scale, Lambda cold path and test time (writes bench/results/latest.json)
	$(PY) -m bench.run

MUTATE ?=
mutate: deps  ## mutation testing of mlops_config/ and the drift step (MUTATE='<glob>' narrows it; slow)
	mutmut run --max-children 2 $(MUTATE)
	mutmut results

# One Lambda folder per run, staged in build/mutate-<FN>/ (scripts/mutate_lambda.py says why); MUTATE narrows it
# with mutant-name globs such as 'retrain.x_count_new_data*'; MUTATE_TESTS='<test files>' narrows the tests it runs;
# MAX_CHILDREN sets mutmut's parallel test runs (1 on a shared machine).
FN ?= retrain_trigger
MAX_CHILDREN ?= 2
mutate-lambda: deps  ## mutation testing of one Lambda folder: FN=retrain_trigger|monitor_bridge|batch_window|clarify_config|promote_model
	$(PY) scripts/mutate_lambda.py $(FN) --max-children $(MAX_CHILDREN) $(foreach test,$(MUTATE_TESTS),--tests $(test)) $(MUTATE)

lock: | $(UV)  ## re-pin transitive dependencies from a fresh resolve of requirements-dev.txt (synth's set is a subset)
	$(UV) pip compile --quiet --python $(PYTHON) --no-header --no-annotate --output-file constraints.txt requirements-dev.txt

integ-snapshots: deps  ## offline: compare what the integration tests (integ/) would deploy to their snapshots; UPDATE=1 rewrites
	$(PY) integ/snapshots.py $(if $(filter 1,$(UPDATE)),--update)

# Deploys to a real sandbox account (docs/testing-on-aws.md): never in CI here. INTEG_TESTS picks scenarios
# (training serving monitoring promotion); promotion also uses INTEG_SECOND_REGION (default eu-central-1).
INTEG_REGION ?= eu-west-1
INTEG_TESTS ?=
integ: deps  ## deploy the integration tests to a sandbox account, assert, destroy (AWS credentials; costs money)
	$(PY) integ/run_on_aws.py --region $(INTEG_REGION) $(INTEG_TESTS)

preflight: deps  ## read-only checks that ENV's account can hold the platform (AWS credentials of ENV)
	$(PY) -m preflight $(if $(ENV),--env $(ENV))

clean:  ## remove build output (keeps the venv and node_modules)
	rm -rf cdk.out .pipeline-cache .pytest_cache .mypy_cache .ruff_cache build mutants

CHECKOV_OUT := build/security-templates

$(CHECKOV_VENV)/.installed: requirements-checkov.txt constraints-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt -c constraints-checkov.txt
	touch $@

checkov: deps $(CHECKOV_VENV)/.installed  ## checkov over every template of every stack kind (.checkov.yaml lists what is acknowledged)
	rm -rf $(CHECKOV_OUT) $(CHECKOV_OUT)-assemblies
	$(PY) -m tests.security.variants $(CHECKOV_OUT)
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -d $(CHECKOV_OUT)
