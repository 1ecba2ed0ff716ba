# Two entry points (see README): `make book` builds the book, executing every chapter;
# `make test` runs every test. Both create the virtual environment they need.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: book test lab bench screenshots outputs clean

# the virtual environment: pip is quiet, so a line every 20 s says it is still working
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -m venv $(VENV) || { echo "'$(PYTHON) -m venv' failed: on Debian/Ubuntu run 'apt-get install python3-venv'"; exit 1; }
	@echo "Installing the pinned packages of requirements.txt into $(VENV) (about 2 minutes the first time)..."
	@start=$$(date +%s); ( while sleep 20; do echo "  ... still installing ($$(( $$(date +%s) - start )) s)"; done ) & ticker=$$!; \
	$(BIN)/pip install --quiet --disable-pip-version-check --progress-bar off -r requirements.txt; status=$$?; \
	kill $$ticker 2>/dev/null; wait $$ticker 2>/dev/null; \
	if [ $$status -ne 0 ]; then echo "pip install failed"; exit $$status; fi; \
	echo "  installed in $$(( $$(date +%s) - start )) s"
	@touch $(STAMP)

book: $(STAMP)
	rm -rf _build/html _build/.doctrees
	set -o pipefail; $(BIN)/jupyter-book build -W -n --keep-going . 2>&1 | tee _build.log; \
	status=$$?; mkdir -p _build; mv _build.log _build/build.log; exit $$status
	@echo "The book is in _build/html (open _build/html/index.html)."

# every test, as three streams that share the two cores:
# 1. the package and data tests (pytest tests);
# 2. the chapters re-executed against their stored outputs (nbval), then the JupyterLab browser
#    test (the pooling chapter run in a real JupyterLab, its explorer worked in Chromium:
#    tests/browser/lab_check.py);
# 3. a fresh build of the book, then checks of the built HTML: the files (tests/html_check.py) and
#    every page in Chromium (tests/browser/pages_check.py).
# Streams 2 and 3 write to _build/*.log, shown at the end; the *_check.py files are not collected
# by `pytest tests`.
NBVAL = $(BIN)/python -m pytest --nbval --nbval-sanitize-with tests/sanitize.cfg \
        --nbval-current-env chapters
test: $(STAMP)
	mkdir -p _build
	@( $(NBVAL) > _build/nbval.log 2>&1; nb=$$?; \
	   $(BIN)/python -m pytest tests/browser/lab_check.py > _build/lab-check.log 2>&1; \
	   lb=$$?; test $$nb -eq 0 && test $$lb -eq 0 ) & notebooks=$$!; \
	( $(MAKE) --no-print-directory book > _build/make-book.log 2>&1 || { echo "book build failed" >> _build/make-book.log; exit 1; }; \
	  $(BIN)/python -m pytest tests/html_check.py tests/browser/pages_check.py \
	    > _build/pages-check.log 2>&1 ) & pages=$$!; \
	$(BIN)/python -m pytest tests; unit=$$?; \
	wait $$notebooks; nbs=$$?; wait $$pages; pgs=$$?; \
	echo "--- chapters against their stored outputs (nbval), then JupyterLab (tests/browser/lab_check.py):"; \
	tail -n 15 _build/nbval.log; tail -n 15 _build/lab-check.log; \
	echo "--- the book build (_build/make-book.log), then its pages (tests/html_check.py, tests/browser/pages_check.py):"; \
	tail -n 3 _build/make-book.log; tail -n 15 _build/pages-check.log; \
	test $$unit -eq 0 && test $$nbs -eq 0 && test $$pgs -eq 0

# JupyterLab (with jupyterlab-myst, so MyST roles render) on this environment and this folder
LAB_ARGS ?= --ip=127.0.0.1
lab: $(STAMP)
	$(BIN)/jupyter-lab --ServerApp.root_dir="$(CURDIR)" $(LAB_ARGS) $$([ "$$(id -u)" = 0 ] && echo --allow-root) \
	  chapters/intro.ipynb

# re-execute the chapters in place so that their stored outputs are current
outputs: $(STAMP)
	$(BIN)/python tools/execute_chapters.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_gosh.py

screenshots: book
	$(BIN)/python tools/screenshots.py

clean:
	rm -rf _build
