# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi.py

.PHONY: run test install migrate seed serve bench clean translations-extract translations-update translations-compile

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# axe-core for the browser tests' accessibility checks (skipped when npm is missing locally).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --silent --no-audit --no-fund && touch $@; \
	 else echo "npm not found: browser accessibility checks will be skipped"; fi

# Languages (issue 16): catalogs in booking/translations/; the .mo files are built here, not committed.
TRANSLATIONS := booking/translations
CATALOGS := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile -l $* -i $< -o $@

## translations-extract: collect every marked string into booking/translations/messages.pot
translations-extract: install
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l -k N_ -k Np_:1,2 --no-location --sort-output \
	  --project clinic-booking -o $(TRANSLATIONS)/messages.pot .

## translations-update: merge the template into every language's messages.po (then translate them)
translations-update: translations-extract
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching --ignore-obsolete

## translations-compile: build the .mo files the app reads
translations-compile: $(COMPILED)

install: $(STAMP) $(COMPILED)

migrate: install
	$(BIN)/flask db upgrade

seed: migrate
	$(BIN)/flask seed-demo --if-empty

## run: set everything up (venv, install, migrate, demo clinic) and serve on http://127.0.0.1:5000
run: seed translations-compile
	@$(BIN)/python -c "from booking.demo import demo_logins; from booking.cli import print_logins; print_logins(demo_logins())"
	@echo "Serving on http://127.0.0.1:5000 (Ctrl+C to stop)"
	$(BIN)/flask run --host 127.0.0.1 --port 5000

## test: the whole suite on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set
test: install translations-compile node_modules/.installed
	$(BIN)/python -m pytest

## serve: production server (needs DATABASE_URL and SECRET_KEY)
serve: install
	BOOKING_CONFIG=production $(BIN)/flask db upgrade
	BOOKING_CONFIG=production $(BIN)/gunicorn --workers $${WORKERS:-4} --worker-class gthread --threads $${THREADS:-8} --bind $${BIND:-0.0.0.0:8000} wsgi:app

## bench: every benchmark against PostgreSQL at BENCH_DATABASE_URL (default: a local booking_bench,
## dropped and made again); prints each figure with its target and writes docs/PERFORMANCE.md.
## BENCH_QUICK=1 runs a small, fast version.
$(VENV)/.bench-installed: pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
