# Everything one can do with the book. `make help` lists the targets.
# Each target sets up what it needs: a fresh machine needs only `make book` or `make test`.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := assets/node_modules/.installed
VENDOR := assets/site/vendor
CHROMIUM := /usr/bin/chromium

.PHONY: help book test execute sync slides bench measure clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

$(STAMP): requirements.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -c "import matplotlib.pyplot"  # build matplotlib's font cache now, not inside a chapter's output
	touch $@

$(NODE_STAMP): assets/package.json assets/package-lock.json
	cd assets && npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)
	cp -r assets/node_modules/mathjax/es5 $(VENDOR)/mathjax
	touch $@

$(CHROMIUM):
	apt-get update -qq && apt-get install -y -qq chromium

# Jupyter Book's execution cache knows a notebook by its code cells only: when the helper package changes
# (say the widget's front end, saved into the page with the widget), every chapter must run again.
CACHE_STAMP := _build/.jupyter_cache/.xentbook-stamp
$(CACHE_STAMP): $(wildcard xentbook/*.py xentbook/*.js xentbook/*.css)
	rm -rf _build/.jupyter_cache
	mkdir -p $(dir $@) && touch $@

book: $(STAMP) $(NODE_STAMP) $(CACHE_STAMP)  ## execute every chapter (cached) and build the site into _build/html
	$(BIN)/python tools/notebooks.py prefetch
	$(BIN)/jupyter-book build . -W -n --keep-going

test: book slides $(CHROMIUM)  ## build the book and the slides, then run every test (nbval on each chapter too)
	$(BIN)/pytest -n 2

execute: $(STAMP)  ## re-execute the chapters in place (commit the outputs: nbval compares them)
	$(BIN)/python tools/notebooks.py execute

sync: $(STAMP)  ## rewrite every chapter's Colab badge and set-up cell from _config.yml
	$(BIN)/python tools/notebooks.py sync

slides: $(STAMP) $(NODE_STAMP)  ## turn every chapter into a reveal.js deck under _build/slides
	$(BIN)/python tools/slides.py

bench: $(STAMP)  ## run the benchmarks; the table is printed and written to _build/bench.md
	$(BIN)/python benchmarks/bench_xent.py

measure: $(STAMP) $(NODE_STAMP)  ## time a cold build, a one-chapter rebuild and make test (the README's table)
	$(BIN)/python tools/measure.py

clean:  ## remove the build (keeps .venv and node_modules)
	rm -rf _build
