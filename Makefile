# One command each for what people do often. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_VERSION := 3.11
VENV := .venv
PY := $(VENV)/bin/python
CLIENTS_VENV := .venv-clients
JARS_DIR := .tools/sagemaker_pyspark/sagemaker_pyspark/jars
PORT ?= 4566
AIRFLOW_PORT ?= 8080
# `make airflow EXECUTOR=celery`: CeleryExecutor with two workers, its metadata DB on PostgreSQL and Redis as
# its broker: SQL_ALCHEMY_CONN and CELERY_BROKER_URL (make variables or environment) point elsewhere than
# postgresql+psycopg://postgres@127.0.0.1:5432/airflow_labs and redis://127.0.0.1:6379/1.
EXECUTOR ?= local
DAYS ?= 1
# Test processes at once (pytest-xdist; a test file stays in one process): most tests wait on local AWS, a
# scheduler or a sensor much of the time, so two share the 2 cores well. TEST_WORKERS=0 runs them in one.
TEST_WORKERS ?= 2

# The project's own Airflow home, whatever the shell's AIRFLOW_HOME (`make airflow AIRFLOW_HOME=...` for
# another). The tests use one of their own (tests/conftest.py).
export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export PYTHONPATH := $(CURDIR):$(CURDIR)/plugins
# Targets work from a plain shell: whatever they start by name (airflow, aws) is the venv's.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help install test test-fast demo local-aws clock airflow bench lint lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.lock
	@command -v python$(PYTHON_VERSION) >/dev/null || { echo "python$(PYTHON_VERSION) is required"; exit 1; }
	@test -x $(PY) || python$(PYTHON_VERSION) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-compile -r requirements.lock
	@touch $@

# Athena client libraries the contract tests drive (awswrangler 3.17 needs pyarrow<26; requirements.lock pins 26.0.1).
$(CLIENTS_VENV)/.installed: requirements-clients.lock
	@test -x $(CLIENTS_VENV)/bin/python || python$(PYTHON_VERSION) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/python -m pip install --quiet --no-compile -r requirements-clients.lock
	@touch $@

# hadoop-aws + the AWS SDK bundle for Spark's s3:// (Maven is unreachable; this PyPI package ships them).
$(JARS_DIR)/hadoop-aws-3.3.1.jar: | $(VENV)/.installed
	$(PY) -m pip install --quiet --no-deps --target .tools/sagemaker_pyspark sagemaker-pyspark==1.4.5
	@test -f $@

$(AIRFLOW_HOME)/airflow.db: | $(VENV)/.installed
	@mkdir -p $(AIRFLOW_HOME)
	$(VENV)/bin/airflow db migrate >/dev/null
	@echo "Airflow metadata DB ready in $(AIRFLOW_HOME)"

# Debian's packages, installed when missing: the database servers RDS instances run (local_aws/rds; only
# their binaries are used, local AWS starts servers of its own, never the system's) and the browser the UI's
# browser test drives (tests/e2e/test_browser_ui.py: Chromium, headless, through Playwright), and a compose
# client that checks docker-compose.yaml (tests/unit/test_docker_compose.py: `config` needs no Docker engine).
# Checked again whenever the Makefile changes (what it installs may have).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
.tools/.system-packages: Makefile
	@missing=""; \
	test -x /usr/sbin/mariadbd || missing="$$missing mariadb-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x /usr/bin/chromium || missing="$$missing chromium fonts-liberation"; \
	test -x /usr/bin/chromedriver || missing="$$missing chromium-driver"; \
	docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	if [ -n "$$missing" ]; then \
	  command -v apt-get >/dev/null || { echo "install these Debian packages' equivalents:$$missing"; exit 1; }; \
	  echo "Installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@mkdir -p .tools && touch $@

install: $(VENV)/.installed $(JARS_DIR)/hadoop-aws-3.3.1.jar $(AIRFLOW_HOME)/airflow.db .tools/.system-packages ## venv, pinned packages, Spark S3 jars, Airflow DB, MariaDB/PostgreSQL binaries, Chromium, a compose client

test: install $(CLIENTS_VENV)/.installed ## every test: unit, local-AWS contract, DAG integrity, end-to-end DAG runs
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: install $(CLIENTS_VENV)/.installed ## the tests without end-to-end DAG runs
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not e2e"

demo: install ## run every DAG on local AWS (the nightly ones last), with progress, a summary and artifacts/report.html
	$(PY) scripts/demo.py $(DEMO_ARGS)

.PHONY: aws-preflight
aws-preflight: install ## before running on AWS: each DAG's IAM actions simulated, region and runtimes checked (PRINCIPAL=, REGION=, DAGS=, LOCAL=1)
	$(PY) scripts/aws_preflight.py $(if $(PRINCIPAL),--principal $(PRINCIPAL)) $(if $(REGION),--region $(REGION)) $(foreach dag,$(DAGS),--dag $(dag)) $(if $(LOCAL),--local-aws --port $(PORT))

local-aws: install ## serve local AWS in the foreground on PORT (default 4566)
	$(PY) -m local_aws --port $(PORT)

clock: ## advance the clock of the local AWS on PORT by DAYS (S3 lifecycle rules run, Glue schedules fire), e.g. make clock DAYS=31
	$(PY) -m local_aws.clock --endpoint-url http://127.0.0.1:$(PORT) advance --days $(DAYS)

airflow: install ## local AWS on PORT and Airflow's UI on http://127.0.0.1:AIRFLOW_PORT (8080); prints the login. EXECUTOR=celery: 2 Celery workers
	$(PY) -m labkit.local.airflow_ui --aws-port $(PORT) --port $(AIRFLOW_PORT) --executor $(EXECUTOR)

bench: install ## benchmarks, side by side with their baselines
	$(PY) -m bench

lint: install ## ruff
	$(VENV)/bin/ruff check .

lock: ## re-resolve requirements.in into requirements.lock
	python$(PYTHON_VERSION) -m venv /tmp/ade-lock-venv && /tmp/ade-lock-venv/bin/pip install --quiet -r requirements.in
	/tmp/ade-lock-venv/bin/pip freeze > requirements.lock && rm -rf /tmp/ade-lock-venv

clean: ## remove the venv, tools, Airflow home, local AWS scratch and generated data
	rm -rf $(VENV) $(CLIENTS_VENV) .tools .airflow .local_aws data artifacts
