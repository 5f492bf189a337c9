# The two README commands are `make demo` and `make test`; every other target is a step of those.
SHELL := /bin/bash
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv
BIN := $(VENV)/bin
# Development tooling (local cluster, demo, test data) is the lstflow_dev package in dev/, which
# the lstflow wheel does not ship: its CLI runs from this checkout.
DEV := PYTHONPATH=$(ROOT)/dev $(BIN)/python -m lstflow_dev
export AIRFLOW_HOME ?= $(ROOT)/.lstflow/airflow

.PHONY: setup cluster-up cluster-down airflow-init demo lint pytest test airflow bench

setup:
	bash include/setup/install.sh

cluster-up: setup
	$(DEV) cluster up

cluster-down:
	$(DEV) cluster down

airflow-init: setup
	$(BIN)/lstflow init --poll-interval 5

demo: airflow-init cluster-up
	$(DEV) demo

lint: setup
	$(BIN)/ruff check plugins dev tests dags
	$(BIN)/ruff format --check plugins dev tests dags
	$(BIN)/mypy

pytest: setup cluster-up
	LSTFLOW_REQUIRE_ALL_TIERS=1 $(BIN)/python -m pytest tests --ignore=tests/benchmarks -n 2 --dist loadgroup

test: lint pytest

# The Airflow UI and all its processes (api-server, scheduler, dag-processor, triggerer).
airflow: airflow-init cluster-up
	PATH=$(BIN):$$PATH $(BIN)/airflow standalone

# Benchmarks side by side with lstmcpipe 0.11.5 (installs it in its own venv under .lstflow/bench):
# prints one table and writes .lstflow/bench/results.json. Asserts nothing; takes minutes.
bench: airflow-init cluster-up
	PYTHONPATH=$(ROOT)/plugins:$(ROOT)/dev $(BIN)/python tests/benchmarks/run.py
