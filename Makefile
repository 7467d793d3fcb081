# The two commands of the README:
#   make demo   - create the environment if needed, execute the quickstart and every recipe notebook
#                 on the embedded synthetic data, and print where the results are
#   make test   - create the environment if needed, run the whole test suite (package + notebooks)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Without bytecode every import of torch is twice as slow; some machines set this variable globally.
unexport PYTHONDONTWRITEBYTECODE
# UMAP compiles with numba on first use; a cache inside the checkout makes later runs start fast.
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba
export MPLBACKEND ?= Agg

.PHONY: env demo test benchmark clean

env: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "workbench needs Python 3.11, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: env
	$(BIN)/workbench reproduce --out reproduce

test: env
	$(BIN)/python -m pytest -n 2 --dist loadscope --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg tests notebooks

# The `bench` extra brings the anchors that are not dependencies of the package (librosa); installed once.
benchmark: env
	@$(BIN)/python -c 'import librosa' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .cache reproduce runs
