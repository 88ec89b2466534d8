# Everything one can do with the book. `make help` lists the targets.
# Each target sets up what it needs: a fresh machine needs only `make book` or `make test`.
#
# Settings (on the command line, e.g. `make test CHROMIUM=/opt/chrome/chrome`):
#   PYTHON    the interpreter the virtual environment is made from (3.11 or newer)
#   PIP_ARGS  extra pip arguments, e.g. PyTorch's CPU-only wheel index (see README, "What a machine needs")
#   CHROMIUM  the browser the tests drive; found on PATH when unset (tools/preflight.py)

PYTHON ?= python3
PIP_ARGS ?=
CHROMIUM ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := assets/node_modules/.installed
COLAB_VENV := .venv-colab
COLAB_STAMP := $(COLAB_VENV)/.installed
VENDOR := assets/site/vendor
PREFLIGHT := $(PYTHON) tools/preflight.py

.PHONY: help book test execute sync slides bench measure clean check-book check-test pdf

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

# What the machine must have, checked before anything is built, so that a missing tool stops the command at once
# with a message saying what to install (never a half-built site).
check-book:
	@$(PREFLIGHT) python >/dev/null
	@$(PREFLIGHT) npm >/dev/null

check-test: check-book
	@CHROMIUM="$(CHROMIUM)" $(PREFLIGHT) chromium >/dev/null
	@$(PREFLIGHT) poppler >/dev/null  # pdftotext, pdfinfo, pdftoppm: the PDF's test reads it with them

# A change to the pins makes a new environment from scratch (no package left over from the old pins) and drops
# the built site, which was made with the old ones.
$(STAMP): requirements.txt pyproject.toml
	@$(PREFLIGHT) python >/dev/null
	rm -rf $(VENV) _build
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(PIP_ARGS) -r requirements.txt
	$(BIN)/python -c "import matplotlib.pyplot"  # build matplotlib's font cache now, not inside a chapter's output
	touch $@

# Only what Colab provides (requirements-colab.txt): tests/test_colab.py runs the Colab edition there.
$(COLAB_STAMP): requirements-colab.txt
	@$(PREFLIGHT) python >/dev/null
	rm -rf $(COLAB_VENV)
	$(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/pip install --quiet --disable-pip-version-check $(PIP_ARGS) -r requirements-colab.txt
	$(COLAB_VENV)/bin/python -c "import matplotlib.pyplot"  # matplotlib's font cache, once
	touch $@

$(NODE_STAMP): assets/package.json assets/package-lock.json
	@$(PREFLIGHT) npm >/dev/null
	cd assets && npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)
	cp -r assets/node_modules/mathjax/es5 $(VENDOR)/mathjax
	touch $@

book: check-book $(STAMP) $(NODE_STAMP)  ## build the site into _build/html from the committed, executed chapters
	$(BIN)/jupyter-book build . -W -n --keep-going

test: check-test book slides pdf $(COLAB_STAMP)  ## build the book and the slides, then run every test (nbval re-runs each chapter)
	browser="$$(CHROMIUM="$(CHROMIUM)" $(PREFLIGHT) chromium)" && CHROMIUM="$$browser" $(BIN)/pytest -n 2 --dist loadgroup

execute: $(STAMP)  ## re-execute the chapters in place (commit the outputs: nbval compares them, the site shows them)
	$(BIN)/python tools/notebooks.py execute

sync: $(STAMP)  ## rewrite every chapter's Colab badge and set-up cell from _config.yml, and the Colab edition
	$(BIN)/python tools/notebooks.py sync

slides: check-book $(STAMP) $(NODE_STAMP)  ## turn every chapter into a reveal.js deck under _build/slides
	$(BIN)/python tools/slides.py

pdf: check-book book  ## print the whole book into one PDF, _build/pdf/cross-entropy-book.pdf (also shipped in the site)
	browser="$$(CHROMIUM="$(CHROMIUM)" $(PREFLIGHT) chromium)" && CHROMIUM="$$browser" $(BIN)/python tools/pdf.py

bench: $(STAMP)  ## run the benchmarks (minutes; the report says how long); the tables go to _build/bench.md and _build/bench.json
	$(BIN)/python benchmarks/bench_xent.py

measure: check-book $(STAMP) $(NODE_STAMP)  ## time a site build, a one-chapter rebuild and make test (benchmarks/README.md's table)
	$(BIN)/python tools/measure.py

clean:  ## remove the build (keeps .venv and node_modules)
	rm -rf _build
