# Two commands a newcomer needs:
#   make ask    set up (offline, bundled model) and answer a question
#   make test   set up with test extras and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
Q      ?= 绍兴2025年技术交易额目标是多少?

.PHONY: ask setup setup-test test eval bench ui browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q -e .

ask: setup
	$(BIN)/rag ask "$(Q)"

# torch is pinned to the CPU build first: an unpinned torch would pull a multi-GB CUDA build.
setup-test: $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'

# Debian's Chromium and CJK fonts for the real-browser UI test (needs root; skipped otherwise).
browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	else echo "note: no /usr/bin/chromium and not root: the browser test will be skipped"; fi

test: setup-test browser
	$(BIN)/python -m pytest -q

# The main set and every slice in eval/unseen/; e.g. make eval EVAL_ARGS="--no-slices" or "--slice dev".
EVAL_ARGS ?=
eval: setup
	$(BIN)/pip install -q -e '.[eval]'
	$(BIN)/rag eval --out eval/runs/latest $(EVAL_ARGS)

bench: setup
	$(BIN)/python benchmarks/bench.py

ui: setup
	$(BIN)/pip install -q -e '.[ui]'
	$(BIN)/rag ui

clean:
	rm -rf $(VENV) indexes/default .pytest_cache
