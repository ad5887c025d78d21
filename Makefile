# Two commands on a fresh machine: `make run` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench demo clean package dist smoke

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tagloop demo --open

test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/import_speed.py
	$(BIN)/python bench/browse.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/editor_latency.py
	$(BIN)/python bench/retrain.py
	$(BIN)/python bench/al_curves.py
	$(BIN)/python bench/bundle.py

# The frozen app (packaging/README.md): dist/tagloop/tagloop, no Python needed on the target.
# PyInstaller comes from the `package` extra (pinned), installed into .venv on first use.
PACKAGE_STAMP := $(VENV)/.installed-package
VERSION = $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' app/__init__.py)
ARCHIVE = dist/tagloop-$(VERSION)-linux-$(shell uname -m)

$(PACKAGE_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,package]'
	touch $(PACKAGE_STAMP)

package: $(PACKAGE_STAMP)
	@start=$$(date +%s); \
	$(BIN)/python -m PyInstaller --noconfirm --clean --log-level WARN \
		--distpath dist --workpath build/pyinstaller packaging/tagloop.spec && \
	echo "make package: dist/tagloop built in $$(( $$(date +%s) - start )) s"
	$(BIN)/python packaging/size_report.py dist/tagloop --top 12

smoke:
	packaging/smoke_test.sh dist/tagloop

# The offline installer archive and its SHA-256 (check it on the air-gapped side, README).
dist: package
	rm -f $(ARCHIVE).tar.gz $(ARCHIVE).tar.gz.sha256
	tar -C dist -czf $(ARCHIVE).tar.gz --owner=0 --group=0 --numeric-owner tagloop
	cd dist && sha256sum $(notdir $(ARCHIVE)).tar.gz > $(notdir $(ARCHIVE)).tar.gz.sha256
	@cat $(ARCHIVE).tar.gz.sha256

clean:
	rm -rf $(VENV) build dist *.egg-info
