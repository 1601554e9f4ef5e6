# Kie Studio. `make run` starts the studio; `make test` runs the whole suite. Both set everything up first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

# The first Python 3.12+ on PATH (a `.python-version` file selects 3.12 under pyenv).
BOOT_PYTHON := $(shell for p in python3.13 python3.12 python3; do \
	if $$p -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then echo $$p; break; fi; done)

.PHONY: install run test lint typecheck format bench lock clean audit

$(VENV)/.installed: requirements-dev.lock
	@test -n "$(BOOT_PYTHON)" || { echo "Kie Studio needs Python 3.12 or newer on PATH (python3.12 or python3.13)."; exit 1; }
	@test -x $(PY) || $(BOOT_PYTHON) -m venv $(VENV)
	@echo "Installing dependencies from requirements-dev.lock…"
	@$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock 2>&1 | grep -v "is ignored" || true
	@$(PY) -c "import django, django_q, allauth" || { echo "Dependency install failed."; exit 1; }
	@touch $@

install: $(VENV)/.installed

run: install
	@$(PY) manage.py migrate --noinput
	@$(PY) manage.py runstudio --port $(PORT)

PYTEST_ARGS ?= --durations=25

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy with django-stubs over kiestudio/ (settings in pyproject.toml): strict for kie and the simulator.
typecheck: install
	$(VENV)/bin/mypy

# Static analysis gates: bandit (no high-severity finding in our code) and pip-audit (no known vulnerability in
# the locked production dependencies; it asks PyPI, which these machines reach through the registry).
audit: install
	$(VENV)/bin/bandit -q -r kiestudio --severity-level high --confidence-level low
	$(VENV)/bin/pip-audit -r requirements.lock --require-hashes --disable-pip --progress-spinner off

# Benchmarks against the simulator, side by side in one run; exits non-zero when a target is missed.
bench: install
	$(PY) bench/run.py

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Re-resolve the pinned lock files after editing pyproject.toml (needs network access to PyPI).
lock: install
	$(PY) -m pip install --quiet uv==0.13.9
	UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv pip compile pyproject.toml --python-version 3.12 --generate-hashes -q --no-header -o requirements.lock
	UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.12 --generate-hashes -q --no-header -o requirements-dev.lock

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .mypy_cache
