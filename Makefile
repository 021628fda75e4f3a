# mailbot — the two commands a fresh Debian 12 machine needs (as root):
#   make demo   simulate a month on the embedded default (Maildir + SQLite), leave the bulletin PDF and the outbox
#   make test   run the whole test suite (installs what it needs first)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# Debian packages: WeasyPrint's Pango, harfbuzz-subset (without it CJK subsetting is ~10x slower), a CJK font with
# rare characters (䶮), poppler-utils for the PDF checks, Dovecot and openssl for the IMAP tests.
DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk fonts-wqy-zenhei poppler-utils \
        dovecot-imapd dovecot-lmtpd openssl
# The tests alone: every HTML mail is laid out in headless Chromium at phone and desktop width; backup and restore
# are tested against PostgreSQL with its own pg_dump and pg_restore (also what `mailbot backup` needs in production).
# chromium-driver: Selenium drives the board (`mailbot web`) through sign-in in that Chromium.
TEST_DEBS := chromium chromium-driver postgresql-client

.PHONY: demo run test bench system-deps test-deps install-debs venv production clean

demo: system-deps venv
	$(VENV)/bin/mailbot demo

run: venv
	$(VENV)/bin/mailbot run

# Where PYTHONDONTWRITEBYTECODE is set (these machines), every `mailbot` subprocess of the suite would compile the
# project again and every pytest worker would rewrite every test module's asserts again (~10 s each): compileall
# and one collection with the variable unset write both caches once — the collection beside mypy, on the other core.
test: system-deps test-deps venv
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m compileall -q mailbot parsers >/dev/null
	$(PY) -m mypy mailbot parsers & mypy=$$!; \
	  env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest --collect-only -q -p no:cacheprovider >/dev/null; \
	  wait $$mypy
	$(PY) -m pytest -q -n 4 --dist loadfile --durations=25

bench: venv
	$(PY) bench/bench_bulletin.py

system-deps:
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(DEBS)"

test-deps:
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(TEST_DEBS)"

install-debs:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -c 'import ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "as root, run: apt-get install -y$$missing"; exit 1; fi; \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# A production install: the runtime packages only (no test extras), in this directory's .venv.
production: system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .

clean:
	rm -rf $(VENV) data/demo build *.egg-info
