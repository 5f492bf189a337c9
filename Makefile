# The two README commands are `make demo` and `make test`; every other target is a step of those.
SHELL := /bin/bash
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv
BIN := $(VENV)/bin
# Development tooling (local cluster, demo, test data) is the lstflow_dev package in dev/, which
# the lstflow wheel does not ship: its CLI runs from this checkout.
DEV := PYTHONPATH=$(ROOT)/dev $(BIN)/python -m lstflow_dev
export AIRFLOW_HOME ?= $(ROOT)/.lstflow/airflow

# Airflow's metadata DB: this checkout's PostgreSQL server (include/postgres; port
# $LSTFLOW_POSTGRES_PORT, default 15432), database `airflow`.
AIRFLOW_DB := airflow

.PHONY: setup postgres-up postgres-down cluster-up cluster-down airflow-init demo lint pytest test airflow bench

setup:
	bash include/setup/install.sh

postgres-up: setup
	bash include/postgres/up.sh $(AIRFLOW_DB) >/dev/null

postgres-down:
	bash include/postgres/down.sh

# Also upserts the cluster's SSH connection into an initialised $AIRFLOW_HOME's DB: PostgreSQL.
cluster-up: setup postgres-up
	$(DEV) cluster up

cluster-down:
	$(DEV) cluster down

# This checkout's DAG files, production library and (demo) log root; a deployment passes its own.
# The demo configs' ${LSTFLOW_DATA_ROOT} and ${LSTFLOW_ANALYSIS_ENV} go into airflow.cfg, so every
# Airflow process (make airflow, make demo) expands them alike.
airflow-init: setup postgres-up
	AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$$(bash include/postgres/url.sh $(AIRFLOW_DB))" \
	$(BIN)/lstflow init --poll-interval 5 --dags-folder $(ROOT)/dags \
		--production-configs $(ROOT)/include/production_configs \
		--log-root $${LSTFLOW_DATA_ROOT:-$(ROOT)/.lstflow/data}/prod_logs \
		--config-variable LSTFLOW_DATA_ROOT=$${LSTFLOW_DATA_ROOT:-$(ROOT)/.lstflow/data} \
		--config-variable LSTFLOW_ANALYSIS_ENV=$(VENV)

demo: airflow-init cluster-up
	$(DEV) demo

lint: setup
	$(BIN)/ruff check plugins dev tests dags
	$(BIN)/ruff format --check plugins dev tests dags
	$(BIN)/mypy

pytest: setup cluster-up
	LSTFLOW_REQUIRE_ALL_TIERS=1 $(BIN)/python -m pytest tests --ignore=tests/benchmarks -n 2 --dist loadgroup

test: lint pytest

# The Airflow UI and all its processes (api-server, scheduler, dag-processor, triggerer), with
# LocalExecutor on PostgreSQL.
airflow: airflow-init cluster-up
	PATH=$(BIN):$$PATH $(BIN)/airflow standalone

# Benchmarks side by side with lstmcpipe 0.11.5 (installs it in its own venv under .lstflow/bench):
# prints one table and writes .lstflow/bench/results.json. Asserts nothing; takes minutes.
bench: airflow-init cluster-up
	PYTHONPATH=$(ROOT)/plugins:$(ROOT)/dev $(BIN)/python tests/benchmarks/run.py
