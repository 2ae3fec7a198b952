# Two commands do all set-up on a fresh machine: `make run` and `make test`. Both are idempotent.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
CORES ?= all
STAMP := $(VENV)/.installed

.PHONY: run test setup report clean

setup: $(STAMP)

# Re-install only when the pins change. The test, Slurm, label-issue (cleanlab, AGPL: an optional
# extra that only ddd.labelissues imports, inside a function), RSA, timm and CLIP extras are installed
# too, so that every test runs (none downloads anything).
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,slurm,labels,rsa,timm,clip]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES)
	$(VENV)/bin/snakemake --cores 1 --report results/report.html
	@echo "Report: $(abspath results/report.html)"

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf results logs benchmarks/train benchmarks/eval checkpoints .snakemake
