# Two commands for a new machine: `make run` and `make test` (see README.md).
# Each installs what is missing first; stamp files make a second run fast.

PY := .venv/bin/python
PIP := .venv/bin/pip
FORGE := node_modules/.bin/forge
DATA ?= .notary

.PHONY: run test setup setup-test forge-test imports pytest lint fmt bench abi clean

run: setup
	$(PY) scripts/run_local.py --data $(DATA)

test: setup-test imports forge-test pytest

setup: .venv/.installed node_modules/.installed

setup-test: setup .venv/.installed-test .system-deps postgres

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

.venv/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

.venv/.installed-test: .venv/.installed pyproject.toml
	$(PIP) install -q -e '.[test]'
	touch $@

# Browser tests drive Debian's chromium (playwright cannot download one here); page
# images of Chinese PDFs need a CJK font. The stamp's producer corpus (tests/support/pdf_corpus.py)
# needs Ghostscript, qpdf, poppler (pdftocairo), rsvg-convert (cairo), pdfTeX/xdvipdfmx,
# and zbar as the second QR decoder.
STAMP_TOOLS := ghostscript qpdf poppler-utils librsvg2-bin texlive-binaries texlive-base zbar-tools
.system-deps:
	test -x /usr/bin/chromium -a -d /usr/share/fonts/truetype/wqy || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null)
	test -x /usr/bin/gs -a -x /usr/bin/qpdf -a -x /usr/bin/pdftocairo -a -x /usr/bin/rsvg-convert \
	  -a -x /usr/bin/pdftex -a -x /usr/bin/xdvipdfmx -a -x /usr/bin/zbarimg || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(STAMP_TOOLS) >/dev/null)
	touch $@

# The PostgreSQL half of the suite needs the local server (127.0.0.1:5432, db `test`).
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true

# The layers of docs/design.md, as import-linter contracts in pyproject.toml.
imports: setup-test
	.venv/bin/lint-imports

forge-test: setup
	$(FORGE) test

pytest: setup-test
	$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

lint: setup-test imports
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	$(FORGE) fmt --check

fmt: setup-test
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
	$(FORGE) fmt

bench: setup-test
	$(PY) scripts/bench_all.py $(if $(QUICK),--quick,)

abi: setup
	$(PY) -m notary.chain.build --write

clean:
	rm -rf contracts/out contracts/cache .pytest_cache
