# The commands README and CI call. `make up` and `make test` work on a fresh machine.
SPEC ?= stack/stack.yaml
PY := .venv/bin/python
PROMSTACK := .venv/bin/promstack

.PHONY: install up down status test test-fast lint golden bench

install:
	@scripts/install.sh

# Bring the example stack up on the best runtime available (compose where a Docker engine answers
# and the images can be had, else host processes). Example secrets come from stack/example.env.
up: install
	@set -a; . stack/example.env; set +a; $(PROMSTACK) up $(SPEC)

down:
	@$(PROMSTACK) down $(SPEC)

status:
	@$(PROMSTACK) status $(SPEC)

# The whole suite: unit, golden, real tools, live local and compose runtimes.
test: install
	@tests/images/start_dockerd.sh >/dev/null 2>&1 || echo "warning: no Docker engine; compose tests will say so"
	@$(PY) -m pytest -n 2 --dist loadgroup -q

test-fast: install
	@$(PY) -m pytest -q -m "not live and not docker"

lint:
	@.venv/bin/ruff check generator tests bench dashboards
	@.venv/bin/ruff format --check generator tests bench dashboards
	@.venv/bin/mypy generator

golden:
	@$(PY) -m pytest -q tests/test_golden.py --update-golden

bench:
	@$(PY) bench/run.py
