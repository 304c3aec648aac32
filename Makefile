# Two commands matter on a fresh machine: `make demo` and `make test` (see README.md).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/citebot index docs --db .citebot/demo
	$(BIN)/citebot ask "How do citations work?" --db .citebot/demo -k 3

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check index bot tests bench
	$(BIN)/mypy index bot

bench: $(STAMP)
	$(BIN)/pip install -q -c constraints.txt -e '.[test,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf .citebot .pytest_cache .mypy_cache .ruff_cache
