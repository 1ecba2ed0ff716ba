# Two entry points (see README): `make book` builds the book, executing every chapter;
# `make test` runs every test. Both create the virtual environment they need.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: book test unit notebooks html-check bench screenshots outputs clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

book: $(STAMP)
	rm -rf _build/html _build/.doctrees
	set -o pipefail; $(BIN)/jupyter-book build -W -n --keep-going . 2>&1 | tee _build.log; \
	status=$$?; mkdir -p _build; mv _build.log _build/build.log; exit $$status

# every test: the package and data tests, the chapters re-executed against their stored
# outputs (nbval), then a fresh build of the book and a check of the built HTML
test: $(STAMP)
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbval --nbval-sanitize-with tests/sanitize.cfg --nbval-current-env chapters
	$(MAKE) book
	$(BIN)/python -m pytest tests/html_check.py

# re-execute the chapters in place so that their stored outputs are current
outputs: $(STAMP)
	$(BIN)/python tools/execute_chapters.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_gosh.py

screenshots: book
	$(BIN)/python tools/screenshots.py

clean:
	rm -rf _build
