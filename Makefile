# Everything a fresh machine needs: `make report` (the main job) and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup browser report test lint bench oracle oracle-toolbox clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned: 2.13.0 is the CPU build this machine installs from a local file
	$(PY) -m pip install --quiet "torch==2.13.0" jax jaxlib
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# One test renders the report page in headless Chromium (Debian's package). Installed here only where that is
# possible without asking: as root with apt-get (as in CI). Elsewhere the test is skipped and says why.
browser:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "note: Chromium is not installed and this is not root: the browser test will be skipped" \
		     "(install Debian's chromium, e.g. 'sudo make browser', to run it)."; \
	fi

report: $(STAMP)
	$(VENV)/bin/smoothround report --out report

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks conformance examples
	$(VENV)/bin/mypy

# SMOOTHROUND_REQUIRE_BROWSER=1 (set by CI) turns a missing Chromium into a failure instead of a skip
test: $(STAMP) lint browser
	@if command -v chromium >/dev/null || [ -n "$$SMOOTHROUND_REQUIRE_BROWSER" ]; then \
		$(PY) -m pytest -q src tests; \
	else \
		SMOOTHROUND_SKIP_BROWSER=1 $(PY) -m pytest -q src tests; \
	fi

bench: $(STAMP)
	$(PY) benchmarks/bench.py

# regenerate tests/data/oracle_rounding.npz: the 50-digit mpmath truths of the conformance suite (a few minutes)
oracle: $(STAMP)
	$(PY) conformance/rounding_oracle.py

# regenerate tests/data/oracle_toolbox.npz: the 50-digit mpmath truths of the toolbox conformance suite
oracle-toolbox: $(STAMP)
	$(PY) conformance/toolbox_oracle.py

clean:
	rm -rf $(VENV) report
