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

# mypy reads packages by folder name; a link tree shows it index/ and bot/ under their installed names.
TYPECHECK := build/typecheck
lint: $(STAMP)
	$(BIN)/ruff check index bot tests bench scripts
	mkdir -p $(TYPECHECK)/citebot
	ln -sfn ../../../index $(TYPECHECK)/citebot/index
	ln -sfn ../../../bot $(TYPECHECK)/citebot/bot
	MYPYPATH=$(TYPECHECK) $(BIN)/mypy -p citebot.index -p citebot.bot

bench: $(STAMP)
	$(BIN)/pip install -q -c constraints.txt -e '.[test,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf .citebot .pytest_cache .mypy_cache .ruff_cache
