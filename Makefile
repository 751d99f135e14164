# srddpm: the two set-up commands are `make book` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements-lock.txt
JOBS ?= 2

.PHONY: book test test-standalone lib clean check-sync test-unit test-notebooks book-ci browser-test browser-deps

# (Re)create the virtual environment when pyproject.toml or the lock file changes. pyproject.toml
# has lower bounds only (the library lives in its users' environments); the lock file pins what
# make installs here, so that `make test` is reproducible.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	$(BIN)/python -m pip install -q -c $(LOCK) -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' ; test $${PIPESTATUS[0]} -eq 0
	@touch $(STAMP)

lib: $(STAMP)
	$(BIN)/nbdev-export

# The book at the `book` profile: export, run every chapter once (tools/nbexec.py records its
# run time), then render the executed notebooks.
book: $(STAMP)
	$(BIN)/nbdev-export
	$(BIN)/python tools/book.py execute --profile book --jobs $(JOBS)
	$(BIN)/python tools/book.py build --out _build/book
	@echo "The book is at $(CURDIR)/_build/book/_build/html/index.html"

# Every check: notebooks clean and in sync with srddpm/, pytest (unit tests + one test per
# chapter at the `ci` profile), then the book built from those executed notebooks with
# warnings as errors.
test: $(STAMP)
	$(BIN)/python tools/check_sync.py
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.citation-file-format CITATION.cff
	$(MAKE) --no-print-directory browser-deps
	SRDDPM_PROFILE=ci $(BIN)/python -m pytest -n $(JOBS) --dist loadfile tests
	$(BIN)/python tools/wheel_check.py --python $(PYTHON)
	$(BIN)/python tools/book.py build --out _build/ci --strict
	$(BIN)/python tools/browser_check.py _build/ci/_build/html --screenshots _build/screenshots
	@echo "make test: all checks passed"

# Slower checks, outside `make test`: every chapter copied alone into an empty folder and run in the
# wheel's environment (torch 2.13, no torchvision), and the unit tests against the installed wheel.
test-standalone: $(STAMP)
	$(BIN)/python tools/wheel_check.py --python $(PYTHON) --every-chapter --unit-tests
	@echo "make test-standalone: all checks passed"

# Debian's Chromium and its driver for the browser check, installed when missing.
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  echo "installing Debian's chromium and chromium-driver for the browser check"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null; \
	fi

clean:
	rm -rf _build _docs .venv-wheel
