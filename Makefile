# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080
DATA ?= data
HOST ?= 127.0.0.1

.PHONY: run test lint format bench clean

$(BIN)/python: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(BIN)/python

run: $(BIN)/python
	$(BIN)/python run.py serve --host $(HOST) --port $(PORT) --data $(DATA)

test: $(BIN)/python
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(BIN)/python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/python
	$(BIN)/ruff format .

bench: $(BIN)/python
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
