.DEFAULT_GOAL := help
VENV := .venv
BIN := $(VENV)/bin

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/revops: pyproject.toml
	python3 -m venv $(VENV) && $(BIN)/pip install -q -e '.[dev]'

demo: $(BIN)/revops ## Generate the demo company, load it and write the funnel report
	$(BIN)/revops demo

test: $(BIN)/revops ## ruff, mypy and the whole test suite (DuckDB and PostgreSQL)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/pytest -q

fmt: $(BIN)/revops ## Format and auto-fix
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(BIN)/revops ## Metric-layer benchmark at 10x demo scale against pandas and DuckDB SQL
	$(BIN)/python bench/metrics.py

docs: $(BIN)/revops ## Regenerate docs/data-model.md from the data model
	$(BIN)/revops tables --markdown > docs/data-model.md

clean: ## Remove generated files (warehouse, reports, demo exports)
	rm -rf out

.PHONY: help demo test fmt bench docs clean
