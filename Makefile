# Countersign: `make run` serves the app with demo data, `make test` passes the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/countersign
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# Parallel test processes (pytest-xdist); each has its own test database and Redis database.
TEST_WORKERS ?= 2

.PHONY: run test screenshots venv install services lint format bench bench-quick bench-instructions clean

$(BIN)/activate: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(BIN)/activate

venv install: $(BIN)/activate

# Embedded default: SQLite under var/, Celery worker with embedded beat on the
# filesystem broker. Set DATABASE_URL / CELERY_BROKER_URL to use PostgreSQL / Redis.
run: $(BIN)/activate
	scripts/run.sh $(PORT)

services:
	scripts/services.sh

TEST_ENV := DEBUG=0 SECRET_KEY=test-secret-key-not-for-production-use-0123456789abcdef \
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_REDIS_URL) \
	REDIS_URL=$(TEST_REDIS_URL) SECURE_SSL_REDIRECT=0 SESSION_COOKIE_SECURE=0 \
	CSRF_COOKIE_SECURE=0 DJANGO_ALLOW_ASYNC_UNSAFE=true

test: $(BIN)/activate services
	$(TEST_ENV) $(BIN)/python manage.py collectstatic --noinput --clear -v 0
	$(TEST_ENV) $(BIN)/python -m pytest --create-db -p no:cacheprovider \
		-n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The user guides' pictures (docs/images/): the browser story of every role on
# make run's demo data (SQLite), each page checked by axe-core as it is taken.
screenshots: $(BIN)/activate services
	rm -f docs/images/*.png
	$(TEST_ENV) COUNTERSIGN_SCREENSHOTS=$(CURDIR)/docs/images $(BIN)/python -m pytest \
		-p no:cacheprovider -q -k sqlite tests/browser/test_roles.py

lint: $(BIN)/activate
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/activate
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var test-artifacts

# Performance harness (PostgreSQL on 127.0.0.1, wrk): see docs/performance.md.
bench: $(BIN)/activate services
	@command -v wrk >/dev/null || apt-get install -y -qq wrk
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-quick: $(BIN)/activate services
	@command -v wrk >/dev/null || apt-get install -y -qq wrk
	$(BIN)/python bench/run.py --quick $(BENCH_ARGS)

# Worker instructions per gate check, runtime decision, policy export and one-query request (callgrind):
# steady where timings drift; see bench/instructions.py.
bench-instructions: $(BIN)/activate services
	@command -v valgrind >/dev/null || apt-get install -y -qq valgrind
	$(BIN)/python bench/instructions.py $(BENCH_ARGS)
