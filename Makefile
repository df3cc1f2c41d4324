# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data/raw

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,fast]'
	@touch $(STAMP)

DEMO_BRAND ?= b000

demo: $(STAMP)
	$(BIN)/recommender generate --out $(DATA) --influencers 5000 --brands 200 --seed 7
	$(BIN)/recommender validate --data $(DATA)
	$(BIN)/recommender train --data $(DATA) --seed 7
	$(BIN)/recommender recommend --brand $(DEMO_BRAND) --top-n 10

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) mlruns mlflow.db
