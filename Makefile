# Qingfeng — every target bootstraps what it needs, so each works as the first command on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp

# Local services for the storage tests (a laptop without them skips those tests, with the reason).
PG_PROBE := $(shell $(PYTHON) -c "import socket;s=socket.socket();s.settimeout(0.5);print(s.connect_ex(('127.0.0.1',5432))==0)" 2>/dev/null)
REDIS_PROBE := $(shell $(PYTHON) -c "import socket;s=socket.socket();s.settimeout(0.5);print(s.connect_ex(('127.0.0.1',6379))==0)" 2>/dev/null)
ifeq ($(PG_PROBE),True)
export TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
endif
ifeq ($(REDIS_PROBE),True)
export TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
endif

.PHONY: install test load lint demo bench bench-load catalogues clean browser

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m bot i18n compile
	touch $(STAMP)

catalogues: install
	$(BIN)/python -m bot i18n compile

# Two workers: the machine (and CI) has two cores; PostgreSQL tests each get their own database.
PYTEST_WORKERS ?= 2

# The browser tests drive Debian's Chromium (Playwright's own browser download cannot work
# offline). Installed with apt when missing and this user may; else those tests skip, with the
# reason printed — except under CI=true, where they fail instead.
CHROMIUM ?= /usr/bin/chromium

browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
	      || echo "make: could not install chromium with apt; the browser tests will say so"; \
	  else echo "make: $(CHROMIUM) is missing; the browser tests will say so"; fi; }

test: install catalogues browser
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The full-scale rate-limit runs (200 cadres at once, 2,000-recipient broadcasts), excluded
# from `make test` by the `load` marker; their bounds are generous, CI runs them too.
load: install catalogues
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) -m load $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check bot handlers storage tests bench
	$(BIN)/mypy bot handlers storage tests bench
	$(BIN)/lint-imports --no-cache

demo: install catalogues
	$(BIN)/python -m bot demo

bench: install catalogues
	$(BIN)/python bench/conversation.py
	$(BIN)/python bench/digest.py
	$(BIN)/python bench/broadcast.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/web_page.py
	$(BIN)/python bench/load.py --instances 1
	$(BIN)/python bench/load.py --instances 3

# The load runs alone (also the end of `bench`): 1,000 cadres at a human pace on PostgreSQL and
# Redis, 1 then 3 instances, about 12 minutes each.
bench-load: install catalogues
	$(BIN)/python bench/load.py --instances 1
	$(BIN)/python bench/load.py --instances 3

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
