# auto-vid developer commands. Each target builds the pinned virtualenv it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv lint test demo build clean

help:
	@echo "make test   - build the venv, run the linters and the whole test suite"
	@echo "make demo   - build the venv and run a job end to end on the local runtime"
	@echo "make build  - sam build (needs python3.12 on PATH) and print each function's unzipped size"

$(BIN)/.installed: requirements/dev.txt requirements/constraints.txt src/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt -c requirements/constraints.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(SAM_VENV)/.installed: requirements/sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/sam.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/checkov.txt
	touch $@

venv: $(BIN)/.installed

lint: $(BIN)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint --template template.yaml
	@# Infrastructure policy; each suppression sits in its resource's Metadata, with its reason.
	$(CHECKOV) --file template.yaml --framework cloudformation --skip-download --compact --quiet
	@if ls statemachine/*.asl.json >/dev/null 2>&1; then $(BIN)/statelint statemachine/*.asl.json; fi

test: lint
	$(BIN)/pytest

demo: $(BIN)/.installed
	$(BIN)/autovid demo

# sam build needs a Python that matches the functions' runtime (3.12) on PATH; pyenv's is used when present.
PY312_DIR := $(shell if command -v pyenv >/dev/null 2>&1 && v=$$(pyenv versions --bare | grep -E '^3\.12' | tail -1) \
	&& [ -n "$$v" ]; then echo "$$(pyenv prefix $$v)/bin"; \
	elif command -v python3.12 >/dev/null 2>&1; then dirname "$$(command -v python3.12)"; fi)

build: $(SAM_VENV)/.installed
	@test -n "$(PY312_DIR)" || { echo "make build needs python3.12 on PATH (or pyenv with a 3.12)"; exit 1; }
	PATH="$(PY312_DIR):$$PATH" $(SAM) build --template template.yaml
	@echo "Unzipped size of each built layer and function (its code plus its layers; Lambda's limit is 250 MB):"
	@$(SAM_VENV)/bin/python scripts/built_sizes.py .aws-sam/build

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .ruff_cache .hypothesis
