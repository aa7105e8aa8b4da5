# The whole set-up on a fresh machine is `make run` or `make test`:
# both create .venv and install the project into it when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-slurm test-all bench lint docs docs-serve clean

install: $(STAMP)

# llama-cpp-python compiles llama.cpp from source. Not for this CPU alone (-march=native):
# some virtual machines advertise instructions they do not allow (AMX tiles here), and a
# native build dies there with "Illegal instruction" at the first token. AVX2 runs everywhere
# this project runs, and the wheel pip caches is then safe to reuse on any such machine.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install -e '.[all,dev,docs]'
	$(BIN)/python -m llmhpo.selfcheck || { \
		echo "Rebuilding llama-cpp-python from source, without pip's cached wheel"; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --force-reinstall \
			--no-deps --no-cache-dir "llama-cpp-python==$$($(BIN)/python -c \
			'import importlib.metadata as m; print(m.version("llama_cpp_python"))')" && \
		$(BIN)/python -m llmhpo.selfcheck; }
	touch $(STAMP)

run: install
	$(BIN)/python -m llmhpo.run experiment=quickstart

# One pytest worker per core (pytest-xdist): under 5 minutes on a 2-core CPU.
test: install
	$(BIN)/python -m pytest -n auto

# The tests marked slurm: a study on a SLURM cluster (start one: ../shared/slurm/start.sh, and
# export SLURM_CONF as it says).
test-slurm: install
	$(BIN)/python -m pytest -m slurm

test-all: install
	$(BIN)/python -m pytest -n auto -m 'not gpu'

bench: install
	$(BIN)/python scripts/bench_toy.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The documentation site: built into site/ (warnings are errors), or served on 127.0.0.1.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

clean:
	rm -rf $(VENV) site
