# One entry point for set-up, the main job, tests and the benchmark. Every target installs what it needs
# on first use: a Python venv from requirements-dev.txt (pinned, with constraints.txt) and the CDK CLI
# and Node.js LTS pinned in package.json.
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
ENV ?=
# Extra CDK CLI arguments, e.g. CDK_ARGS='-c approved_models=approved-models.json'.
CDK_ARGS ?=
CDK_CONTEXT := $(if $(ENV),-c env=$(ENV)) $(CDK_ARGS)

.PHONY: help deps synth test lint ls local-run bench mutate mutate-lambda lock clean checkov integ-snapshots integ preflight

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps: $(VENV)/.installed node_modules/.installed  ## create the venv and install the pinned CLI

lint: deps  ## ruff (lint and format) and mypy over all code
	ruff check .
	ruff format --check .
	mypy app.py mlops_config mlops_constructs stacks pipeline_defs scripts tests bench cfn_rules preflight
	@# The integration tests run from integ/ (integ-runner's layout) and import their helpers from there.
	cd integ && MYPYPATH=.:.. mypy --config-file $(CURDIR)/pyproject.toml *.py
	@# Each Lambda function is its own top-level package at run time, so it is type-checked from its folder.
	for function in lambda/*/; do (cd "$$function" && MYPYPATH=. mypy --config-file $(CURDIR)/pyproject.toml *.py); done

synth: lint  ## main job: synthesize every environment (ENV=name for one) with cdk-nag, cfn-lint and a summary
	rm -rf cdk.out
	cdk synth --quiet $(CDK_CONTEXT)
	$(PY) scripts/synth_report.py cdk.out

ls: deps  ## list the stacks of every environment
	cdk ls $(CDK_CONTEXT)

test: deps $(CHECKOV_VENV)/.installed  ## run the test suite (checkov runs from its own venv, see `make checkov`)
	$(PY) -m pytest -n 2 --dist worksteal -q

local-run: deps  ## run preprocess -> train -> evaluate locally on the bundled dataset
	$(PY) -m pipeline_defs.local_run

bench: deps  ## benchmark synth time, scale, Lambda cold path and test time (writes bench/results/latest.json)
	$(PY) -m bench.run

MUTATE ?=
mutate: deps  ## mutation testing of mlops_config/ and the drift step (MUTATE='<glob>' narrows it; slow)
	mutmut run --max-children 2 $(MUTATE)
	mutmut results

# One Lambda folder per run, staged in build/mutate-<FN>/ (scripts/mutate_lambda.py says why); MUTATE narrows it
# with mutant-name globs such as 'retrain.x_count_new_data*'.
FN ?= retrain_trigger
mutate-lambda: deps  ## mutation testing of one Lambda folder: FN=retrain_trigger|monitor_bridge|batch_window|clarify_config|promote_model
	$(PY) scripts/mutate_lambda.py $(FN) $(MUTATE)

lock:  ## re-pin transitive dependencies from a fresh resolve of requirements-dev.txt
	rm -rf /tmp/mlops-lock-venv && $(PYTHON) -m venv /tmp/mlops-lock-venv
	/tmp/mlops-lock-venv/bin/pip install --quiet -r requirements-dev.txt
	/tmp/mlops-lock-venv/bin/pip freeze --exclude-editable | grep -v '^pip==' > constraints.txt

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

# checkov pins an old boto3: it lives in its own venv, never in .venv.
CHECKOV_VENV := .venv-checkov
CHECKOV_OUT := build/security-templates

$(CHECKOV_VENV)/.installed: requirements-checkov.txt constraints-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt -c constraints-checkov.txt
	touch $@

checkov: deps $(CHECKOV_VENV)/.installed  ## checkov over every template of every stack kind (.checkov.yaml lists what is acknowledged)
	rm -rf $(CHECKOV_OUT) $(CHECKOV_OUT)-assemblies
	$(PY) -m tests.security.variants $(CHECKOV_OUT)
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -d $(CHECKOV_OUT)
