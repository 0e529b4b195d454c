# Everything a fresh machine needs: `make report` (the main job) and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup report test lint bench oracle clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned: 2.13.0 is the CPU build this machine installs from a local file
	$(PY) -m pip install --quiet "torch==2.13.0" jax jaxlib
	$(PY) -m pip install --quiet -e ".[dev]"
	# headless Chromium renders the report page in the tests (Debian's package; CI runs as root)
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	touch $(STAMP)

setup: $(STAMP)

report: $(STAMP)
	$(VENV)/bin/smoothround report --out report

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

test: $(STAMP) lint
	$(PY) -m pytest -q src tests

bench: $(STAMP)
	$(PY) benchmarks/bench_round.py

# regenerate tests/data/oracle_rounding.npz: the 50-digit mpmath truths of the conformance suite (a few minutes)
oracle: $(STAMP)
	$(PY) conformance/rounding_oracle.py

clean:
	rm -rf $(VENV) report
