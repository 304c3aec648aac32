# Two commands matter on a fresh machine: `make demo` and `make test` (see README.md).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench train clean

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

# Rebuild the trained artifacts from ../shared, in order: index the SQuAD corpus into a scratch db, fit the two
# line scorers (index/line_scorer.json on SQuAD; index/line_scorer_code.json on SQuAD and the docs dev sets, which
# it indexes into build/rerank; a minute), train the line reader on the prose scorer's picks (index/reader.npz,
# 8 to 10 minutes on 2 cores), then fit the reranker and answerability model on the docs dev sets, SQuAD and
# SQuAD 2.0 (index/reranker.json, 3 to 5 minutes: it indexes four corpora into build/rerank). Each step prints
# held-out figures before and after.
SHARED ?= ../shared
TRAIN_DB := build/train-db
train: $(STAMP)
	$(BIN)/citebot index $(SHARED)/bench/squad/corpus --db $(TRAIN_DB)
	$(BIN)/python scripts/fit_line_scorer.py $(TRAIN_DB) $(SHARED)/bench/squad --work build/rerank
	$(BIN)/python scripts/train_line_reader.py $(TRAIN_DB) $(SHARED)/bench/squad
	$(BIN)/python scripts/fit_reranker.py --shared $(SHARED) --work build/rerank

clean:
	rm -rf .citebot .pytest_cache .mypy_cache .ruff_cache
