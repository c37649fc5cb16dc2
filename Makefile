# entres: `make book` builds the website from committed results; `make test` is what CI runs.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
JB_BUILD := $(BIN)/jupyter-book build book --config _config.yml --path-output . -W -n --keep-going

.PHONY: install notebooks site book test unit nbval verify lab clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[book,test]"
	touch $(STAMP)

install: $(STAMP)

# Execute every book notebook with the book profile from the committed results (no training), in place.
notebooks: install
	ENTRES_CACHE_ONLY=1 $(BIN)/entres run all --profile book --update-book

# Render the executed notebooks into _build/html (strict: any warning fails).
site: install
	$(JB_BUILD)

book: notebooks site
	@echo "open _build/html/index.html"

unit: install
	$(BIN)/pytest tests

# Re-execute the committed notebooks (cache-only) and compare their NBVAL_CHECK_OUTPUT cells.
nbval: install
	ENTRES_CACHE_ONLY=1 $(BIN)/pytest -p no:cacheprovider --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --ignore=book/drafts book

# Recompute the cheapest committed result of each chapter from nothing and compare its metrics.
# The tolerance allows for another CPU model (same machine type and threads: identical, see the note
# in book/reproducibility); a real change of the computation moves metrics by far more.
VERIFY_TOLERANCE ?= 0.02
# On a machine without the datasets it says so in one line and succeeds (ENTRES_DOWNLOAD=1 fetches them).
verify: install
	@note="$$($(BIN)/python -c 'from entres import data; print(data.missing_note())')"; \
	if [ -n "$$note" ]; then echo "make verify: skipped, it retrains networks and needs the datasets: $$note"; \
	else echo "$(BIN)/entres verify --tolerance $(VERIFY_TOLERANCE)"; $(BIN)/entres verify --tolerance $(VERIFY_TOLERANCE); fi

test: install
	$(JB_BUILD)
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory nbval
	$(MAKE) --no-print-directory verify

# JupyterLab on book/ with the project's kernel and settings: reads the committed results, trains nothing.
LAB_STAMP := $(VENV)/.lab-stamp
$(LAB_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[book,test,lab]"
	touch $(LAB_STAMP)

lab: $(LAB_STAMP)
	ENTRES_CACHE_ONLY=1 LD_PRELOAD="$$($(BIN)/python -m entres.mkl_dispatch 2>/dev/null)" \
		$(BIN)/jupyter lab --notebook-dir=book

clean:
	rm -rf _build
