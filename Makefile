# Two commands do all set-up on a fresh machine:
#   make run    install what is missing, build the index if needed, start the main job
#   make test   install what is missing, run the whole test suite
# Both are idempotent: the venv is reused until pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run chat test bench eval clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first: 2.13.0 is the local CPU build; an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/assistant index
	$(BIN)/assistant chat

chat: run

test: install
	bash scripts/ensure-browser.sh
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/run.py

eval: install
	$(BIN)/assistant eval

clean:
	rm -rf index/chroma data eval/runs test-artifacts
