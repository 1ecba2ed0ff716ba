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

# every test: the package and data tests; then, side by side on the two cores, the chapters
# re-executed against their stored outputs (nbval) and a fresh build of the book; then a check
# of the built HTML
test: $(STAMP)
	$(BIN)/python -m pytest tests
	mkdir -p _build
	$(MAKE) --no-print-directory book > _build/make-book.log 2>&1 & book=$$!; \
	$(BIN)/python -m pytest --nbval --nbval-sanitize-with tests/sanitize.cfg --nbval-current-env chapters; \
	nb=$$?; wait $$book; bk=$$?; \
	if [ $$bk -ne 0 ]; then tail -n 40 _build/make-book.log; echo "book build failed"; fi; \
	test $$nb -eq 0 && test $$bk -eq 0
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
