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

$(STAMP): pyproject.toml jupyter-config/workbench.json
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "workbench needs Python 3.11, found " + sys.version' 
	@echo "make: creating the environment in $(VENV) (torch, torchaudio, JupyterLab, playwright from PyPI; about two minutes)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# The environment's Jupyter saves this checkout's notebooks without outputs and keeps the outputs aside
	@# (workbench.notebooks.OutputsAsideContentsManager). Jupyter Server reads ServerApp settings from
	@# jupyter_server_config.json in its config path ($(VENV)/etc/jupyter is on it); the files in
	@# jupyter_server_config.d only enable extensions, so the setting must not go there.
	mkdir -p $(VENV)/etc/jupyter
	rm -f $(VENV)/etc/jupyter/jupyter_server_config.d/workbench.json
	cp jupyter-config/workbench.json $(VENV)/etc/jupyter/jupyter_server_config.json
	@touch $(STAMP)

demo: env
	@echo "make demo: executing the quickstart and every recipe notebook on the synthetic world with papermill,"
	@echo "two at a time, into reproduce/ (progress lines below: cells done / total per notebook), then writing"
	@echo "the claims report reproduce/report.md and report.html"
	$(BIN)/workbench reproduce --out reproduce

# The browser tests (tests/browser) run JupyterLab in headless Chromium when `chromium` is installed; without it
# they are skipped with the reason, and with CI=true they fail.
test: env
	$(BIN)/python -m pytest -n 2 --dist loadscope --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg tests notebooks

# The `bench` extra brings the anchors that are not dependencies of the package (librosa); installed once.
benchmark: env
	@$(BIN)/python -c 'import librosa' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .cache reproduce runs
