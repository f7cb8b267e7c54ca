# Two commands on a fresh machine:
#   make run    create .venv if missing, install requirements.txt, serve the app
#   make test   same venv plus requirements-dev.txt and chromium, then ruff and pytest
# and, while working:
#   make test-fast   unit and AppTest suites only: no browser, no slow tests, no lint
#   make lint        ruff check and ruff format --check
#   make screenshots the README's pictures (assets/screenshots/), taken by the browser tests
#   make docs        refill the generated blocks of README.md and docs/ from the cards
#   make cluster     REPLICAS replicas (default 2) behind nginx on PORT (default 8500),
#                    all on loopback, in the foreground; Ctrl-C stops them (docs/deploy.md)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501

.PHONY: run test test-fast lint bench screenshots docs chromium nginx cluster clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when the requirement files change.
$(VENV)/.installed-run: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(PY) -m streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT)

# Debian's chromium for the browser tests: installed when missing and apt runs as root.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian chromium for the browser tests"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }; \
		else \
			echo "chromium is missing and cannot be installed here (need root and apt-get)"; \
		fi; \
	fi

# Debian's nginx for make cluster and its test: installed when missing and apt runs as root.
nginx:
	@if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian nginx for make cluster and its test"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx; }; \
		else \
			echo "nginx is missing and cannot be installed here (need root and apt-get)"; \
		fi; \
	fi

# Replicas behind nginx, started by the same scripts as the image (deploy/) and the test.
REPLICAS ?= 2
CLUSTER_PORT := $(if $(filter file,$(origin PORT)),8500,$(PORT))
cluster: $(VENV)/.installed-run nginx
	AUTOREG_PYTHON=$(PY) deploy/cluster.sh $(REPLICAS) $(CLUSTER_PORT)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(VENV)/.installed-dev chromium nginx lint
	$(PY) -m pytest

test-fast: $(VENV)/.installed-dev
	$(PY) -m pytest tests/unit tests/app -m "not browser and not slow"

bench: $(VENV)/.installed-dev
	$(PY) -m autoreg.bench

screenshots: $(VENV)/.installed-dev chromium
	AUTOREG_SCREENSHOTS=assets/screenshots $(PY) -m pytest -q tests/browser/test_every_page.py -k page_opens_clean

docs: $(VENV)/.installed-dev
	$(PY) -m autoreg.cards

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/artifacts
