# Quick start:  make demo   (set up, then build the demo atlas)
#               make test   (set up, then run the whole test suite)
#               make wheel  (dist/miwd_widget-*.whl, to install elsewhere or upload to Colab)
#               make docs   (the documentation site in site/, with the API reference)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.miwd-installed

.PHONY: setup demo test test-py test-js lint format bench clean js chromium results wheel docs

# A local virtual environment with every extra. torch is pinned to the CPU build first, so
# the extras' torch range is already satisfied and pip never fetches a multi-GB CUDA build.
$(STAMP): pyproject.toml js/package.json js/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all,dev]"
	touch $@

setup: $(STAMP)

js/node_modules/.package-lock.json: js/package.json js/package-lock.json
	cd js && npm ci --no-audit --no-fund

js: js/node_modules/.package-lock.json
	cd js && npm run build

demo: setup js
	$(VENV)/bin/miwd demo

# Debian's chromium for the browser tests (root on the machines this project runs on).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; exit 1; fi; }

test-js: js
	cd js && npm test

test-py: setup js chromium
	$(VENV)/bin/pytest

test: test-js test-py

lint: js/node_modules/.package-lock.json
	$(VENV)/bin/ruff check src tests benchmarks scripts docs/griffe_sphinx_roles.py
	$(VENV)/bin/ruff format --check src tests benchmarks scripts docs/griffe_sphinx_roles.py
	cd js && npm run lint

format: js/node_modules/.package-lock.json
	$(VENV)/bin/ruff format src tests benchmarks scripts docs/griffe_sphinx_roles.py
	$(VENV)/bin/ruff check --fix src tests benchmarks scripts docs/griffe_sphinx_roles.py
	cd js && npm run format

# The full study of docs/results.md: main and development zoos (resumable), the variant chosen
# on the development zoo, then every table and figure on the main zoo (about 2 h on 2 cores).
ZOOS ?= zoos
results: setup
	$(VENV)/bin/miwd zoo train -n 2000 -o $(ZOOS)/main --seed 0
	$(VENV)/bin/miwd zoo train -n 400 -o $(ZOOS)/dev --seed 1
	$(PY) scripts/select_variant.py $(ZOOS)/dev $(ZOOS)/main --out docs/results/variants
	$(PY) scripts/reproduce_results.py $(ZOOS)/main --out docs/results --figure4 --by dataset \
	  optimizer activation initialization filter_size depth_conv depth_fc width_conv width_fc
	$(PY) scripts/accuracy_probe.py $(ZOOS)/main --out docs/results/accuracy
	$(PY) scripts/layer_quintiles_probe.py $(ZOOS)/main --out docs/results/layer_quintiles

bench: setup
	$(PY) benchmarks/bench_descriptors.py

# A wheel with the front end (bundle and its third-party notices) and the demo library inside,
# built from the bundle `make js` just made; pip resolves only the build backend (hatchling).
wheel: setup js
	rm -f dist/miwd_widget-*.whl
	$(PY) -m pip wheel --no-deps -q -w dist .
	@ls dist/miwd_widget-*.whl

# The documentation site (mkdocs.yml: the pages in docs/, the API reference from the docstrings
# with mkdocstrings) in site/, not committed; tests/test_docs.py builds it with --strict.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict
	@echo "documentation: site/index.html"

clean:
	rm -rf $(VENV) js/node_modules src/miwd_widget/static build dist site
