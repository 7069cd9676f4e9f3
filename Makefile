# pinfer: `make demo` runs the main job on built-in defaults, `make test` runs the suite.
# Both create .venv from nothing when it is missing.

# Override on the command line to keep a trial venv beside the main one, e.g.
#   make VENV=.venv311 BOOT_PYTHON=python3 test-fast
VENV := .venv
PY := $(VENV)/bin/python
CONSTRAINTS := constraints.txt
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.jax_cache

# Prefer a Python 3.12 that actually runs (jax >= 0.11 and the memo-lang oracle need it):
# a plain python3.12 first, then a pyenv-installed 3.12 selected through PYENV_VERSION;
# otherwise fall back to python3. Each candidate is run, not just looked up.
BOOT_PYTHON ?= $(shell \
  if python3.12 -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then \
    echo python3.12; exit 0; fi; \
  if command -v pyenv >/dev/null 2>&1; then \
    for v in $$(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$$' | sort -rV); do \
      if PYENV_VERSION=$$v python3.12 -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then \
        echo "env PYENV_VERSION=$$v python3.12"; exit 0; fi; \
    done; fi; \
  echo python3)

.PHONY: help venv install install-test demo test test-fast bench wheel-check lint clean

help:
	@echo "make demo       run 'pinfer demo' (filtering + figure in demo_output/)"
	@echo "make test       the whole suite CI runs (creates .venv when missing)"
	@echo "make test-fast  the quick inner-loop subset (-m 'not slow')"
	@echo "make bench      side-by-side benchmarks, writes BENCHMARKS.md"
	@echo "make wheel-check build a wheel and import it in a clean venv"

$(PY):
	@echo "creating $(VENV) with: $(BOOT_PYTHON)"
	$(BOOT_PYTHON) -m venv $(VENV)
	@echo '*' > $(VENV)/.gitignore
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed-runtime: $(PY) pyproject.toml $(CONSTRAINTS)
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed-runtime
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e ".[test]"
	@touch $@

venv: $(PY)
install: $(VENV)/.installed-runtime
install-test: $(VENV)/.installed-test

demo: $(VENV)/.installed-runtime
	$(VENV)/bin/pinfer demo

test: $(VENV)/.installed-test
	$(PY) -m pytest -n 2 --dist loadfile

test-fast: $(VENV)/.installed-test
	$(PY) -m pytest -n 2 --dist loadfile -m "not slow"

bench: $(VENV)/.installed-test
	$(PY) -m benchmarks.run

wheel-check: $(VENV)/.installed-test
	$(PY) -m pytest tests/test_packaging.py -k wheel

lint: $(VENV)/.installed-test
	$(PY) -m ruff check pinfer envs models tests benchmarks experiments

clean:
	rm -rf $(VENV) build dist *.egg-info .jax_cache demo_output
