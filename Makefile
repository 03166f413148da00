# calmodel set-up and entry points. Every target is idempotent: a second
# `make setup` finds everything in place and returns in seconds.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export NXF_OFFLINE := true
export PATH := $(abspath $(BIN)):$(PATH)
OUTDIR ?= results
PYTEST_ARGS ?=

.PHONY: setup demo demo-real test clean image

setup: $(VENV)/.deps-stamp $(VENV)/.casa-stamp $(VENV)/.nextflow-stamp

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "setup: $(PYTHON) not found (CASA 6.7 wheels need CPython 3.11); set PYTHON=..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the pins or the package metadata change.
$(VENV)/.deps-stamp: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.casa-stamp: $(VENV)/.deps-stamp src/calmodel/core/casa.py
	$(BIN)/python -m calmodel.core.casa
	touch $@

$(VENV)/.nextflow-stamp: scripts/setup-nextflow.sh scripts/nextflow-runtime.pom.xml | $(BIN)/python
	scripts/setup-nextflow.sh $(BIN)
	touch $@

# The main job: the pipeline on the built-in demo (two simulated tiles).
demo: setup
	$(BIN)/nextflow run . -profile test --outdir $(OUTDIR)
	@echo "calmodel: demo finished. Report: $(abspath $(OUTDIR))/report/report.html (tables: report/tables.md; layout: docs/output.md)"

# The real VLA observations of casadata (NGC5921, 3C273XC1): docs/real-data.md.
demo-real: setup
	$(BIN)/calmodel real-samplesheet --out $(OUTDIR)/samplesheet_real.csv
	$(BIN)/nextflow run . -profile test_real --input $(OUTDIR)/samplesheet_real.csv --outdir $(OUTDIR)
	@echo "calmodel: real-data run finished. Report: $(abspath $(OUTDIR))/report/report.html"

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The OCI image without a registry (root; podman, runc, debootstrap): see README "Container".
image:
	scripts/podman-setup.sh
	scripts/build-image.sh

clean:
	rm -rf work .nextflow .nextflow.log* $(OUTDIR)
