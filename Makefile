# perfpipe: `make demo` runs the smoke pipeline against the demo service; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt requirements-celery.txt | cksum | cut -d' ' -f1)

.PHONY: demo test lint airflow cluster cluster-stop bench clean

DAG ?= perf_smoke
# pytest-xdist: the Airflow tests mostly wait, so 3 workers on 2 cores; each module runs whole on one worker (its
# module fixtures once), in collection order; PYTEST_WORKERS=-n0 runs serially
PYTEST_WORKERS ?= --numprocesses 3 --dist loadscope --no-loadscope-reorder

demo: $(STAMP)  ## set up, then run a pipeline DAG (perf_smoke) once with `airflow dags test`
	$(PY) -m tools.devstack demo --dag $(DAG) $(if $(CONF),--conf '$(CONF)')

test: $(STAMP)  ## set up (Python and Debian packages), then run every test
	bash tools/install_system_packages.sh tests/system-packages.txt
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

airflow: $(STAMP)  ## set up, then serve airflow standalone on :8080 with the demo wired in
	$(PY) -m tools.devstack airflow

cluster: $(STAMP)  ## start a CeleryExecutor cluster in the background (two workers, Redis, Postgres; docs/cluster.md)
	$(PY) -m tools.cluster start

cluster-stop:  ## stop everything `make cluster` started, and check that nothing is left
	$(PY) -m tools.cluster stop

lint: $(STAMP)  ## fix what ruff can fix, then format
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: $(STAMP)  ## load-engine benchmark against nginx, wrk, hey, Locust and k6, custom-metrics memory, k6 through perfpipe against bare k6; journeys vs Locust and k6: `python -m benchmarks.journey` (docs/benchmarks.md)
	$(PY) -m benchmarks.loadtest
	$(PY) -m benchmarks.custom_metrics
	$(PY) -m benchmarks.k6

$(STAMP): requirements.txt requirements-dev.txt requirements-celery.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "perfpipe needs Python 3.11+")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt  # requirements.txt, Airflow itself and the Celery pins
	rm -f $(VENV)/.installed-* && touch $@

clean:  ## stop the embedded database and remove local state (keeps .venv)
	-$(PY) -m include.perfpipe embedded-db stop
	rm -rf .pgdata .airflow reports
