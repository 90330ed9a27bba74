# CommunityOS: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint format clean bench bench-scoring bench-generate bench-segments bench-web bench-load bench-imports

# Every dependency from the hashed lock (requirements/dev.txt, made from pyproject.toml by
# pip-compile: README "Packaging"), then the project itself, resolving nothing more.
$(INSTALLED): pyproject.toml requirements/base.txt requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(INSTALLED)

# Another address: `PORT=8001 make run` (or `make run PORT=8001`; HOST too, e.g. 0.0.0.0).
run: $(INSTALLED)
	$(BIN)/python scripts/run.py

test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/mypy community_os members engagement platforms segments demo

# Benchmarks (bench/README.md): PostgreSQL only, in their own database, e.g.
#   make bench DATABASE_URL=postgres://postgres@127.0.0.1:5432/communityos_bench
#   make bench-scoring BENCH_ARGS="--members 10000"
#   make bench-segments BENCH_ARGS="--members 1000000"
# `make bench` runs the 100,000-member variant of each: scoring, segment refresh, web, imports.
bench: bench-scoring bench-segments bench-web bench-imports

bench-imports: $(INSTALLED)
	$(BIN)/python bench/imports.py $(BENCH_ARGS)

bench-scoring: $(INSTALLED)
	$(BIN)/python bench/scoring.py $(BENCH_ARGS)

bench-generate: $(INSTALLED)
	$(BIN)/python bench/generate.py $(BENCH_ARGS)

bench-segments: $(INSTALLED)
	$(BIN)/python bench/segments.py $(BENCH_ARGS)

bench-web: $(INSTALLED)
	$(BIN)/python bench/web.py $(BENCH_ARGS)

# 20 users for 60 seconds on the table, pills, profiles and the segment preview; exits 1 on
# any error (not part of `make bench`).
bench-load: $(INSTALLED)
	$(BIN)/python bench/load.py $(BENCH_ARGS)

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var staticfiles db.sqlite3
