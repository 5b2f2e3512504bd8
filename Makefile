# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HAYSTACK_TELEMETRY_ENABLED := False
export RAGAS_DO_NOT_TRACK := true
export ANONYMIZED_TELEMETRY := False

.PHONY: install demo test lint bench-retrieval clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# torch first and pinned (the CPU wheel): an unpinned torch would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -c constraints.txt -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m prorank_integrations models fetch qwen2.5-coder-0.5b-instruct
	HF_HUB_OFFLINE=1 $(PY) examples/demo.py

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q tests

lint: $(STAMP)
	$(VENV)/bin/ruff check prorank_integrations tests examples benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
