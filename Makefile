# The commands README and CI call. `make up` and `make test` work on a fresh machine.
SPEC ?= stack/stack.yaml
PY := .venv/bin/python
PROMSTACK := .venv/bin/promstack

.PHONY: install up down status test test-fast explore lint golden bench bench-scale lock

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

# The whole suite: unit, golden, real tools, live local and compose runtimes. Property tests replay the
# same examples every run (Hypothesis profile `ci`, tests/conftest.py); `make explore` draws new ones.
test: install
	@tests/images/start_dockerd.sh >/dev/null 2>&1 || echo "warning: no Docker engine; compose tests will say so"
	@HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(PY) -m pytest -n 2 --dist loadgroup -q -rs

test-fast: install
	@$(PY) -m pytest -q -m "not live and not docker"

# The property tests, randomized and with ten times the examples: new inputs each run. A failure prints
# the example and how to reproduce it (@reproduce_failure); add it to the test as an @example.
explore: install
	@HYPOTHESIS_PROFILE=explore $(PY) -m pytest -q --hypothesis-show-statistics tests/test_fuzz.py

lint:
	@.venv/bin/ruff check generator tests bench dashboards
	@.venv/bin/ruff format --check generator tests bench dashboards
	@.venv/bin/mypy generator

golden:
	@$(PY) -m pytest -q tests/test_golden.py --update-golden

bench:
	@$(PY) bench/run.py

# generate and check of 10 to 10,000 services, and the example's up, against issue 12's bounds (bench/README.md)
bench-scale:
	@$(PY) bench/scale.py

# Rewrite requirements-dev.lock from what .venv holds: after changing a dependency in pyproject.toml,
# `.venv/bin/pip install -e ".[dev]"`, then this; review the diff like code.
lock:
	@{ sed -n '/^#/p' requirements-dev.lock; .venv/bin/pip list --format=freeze --exclude-editable; } > requirements-dev.lock.new
	@mv requirements-dev.lock.new requirements-dev.lock
