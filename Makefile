# genolake: `make demo` and `make test` set everything up on first use (a .venv from the lockfile).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

export GENOLAKE_HOME ?= $(CURDIR)/.genolake
export DAGSTER_HOME ?= $(GENOLAKE_HOME)/dagster
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := 1
export SPARK_LOCAL_IP := 127.0.0.1

SAMPLE := data/sample
DEMO_FILES := $(SAMPLE)/1kgp3_chr22_CYP2D6_GRCh37.vcf.gz $(SAMPLE)/1kgp3_chr22_COMT_GRCh37.vcf.gz \
	$(SAMPLE)/variant_summary.2021-01.chr22_or_response.subset.txt.gz

.PHONY: help setup demo demo-aws test test-terraform checkov-env bench bench-files hail-env dev clean java bcftools plink
SIZE ?= S
FILES ?= 200

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || { $(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip >/dev/null; $(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.9; }
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)  ## create .venv from the lockfile

java:
	@command -v java >/dev/null || { echo "genolake needs Java 17+ for Spark (Debian: apt-get install openjdk-17-jre-headless)"; exit 1; }

bcftools:  # the reference implementation the parity tests compare against (Debian's package)
	@command -v bcftools >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bcftools >/dev/null; \
	  else echo "the tests need bcftools: sudo apt-get install bcftools"; exit 1; fi; }

plink:  # plink 1.9, the reference the HWE exact test is compared against (Debian's plink1.9 package)
	@command -v plink1.9 >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq plink1.9 >/dev/null; \
	  else echo "the tests need plink 1.9: sudo apt-get install plink1.9"; exit 1; fi; }

# The demo's report cohort: the CEU samples of the 1000 Genomes slices (genolake's default is every sample).
DEMO_COHORT := NA12%

demo: $(STAMP) java  ## ingest the sample 1000 Genomes slices + ClinVar locally and print the drug-response report
	$(BIN)/genolake ingest --cohort '$(DEMO_COHORT)' $(DEMO_FILES)
	$(BIN)/genolake report --cohort '$(DEMO_COHORT)'

AWS_DEMO_HOME := $(CURDIR)/.genolake-aws
demo-aws: $(STAMP) java  ## the aws mode end to end on a local AWS emulator (moto server on loopback): S3 sensor, S3 zones, Glue tables
	rm -rf $(AWS_DEMO_HOME)
	GENOLAKE_HOME=$(AWS_DEMO_HOME) DAGSTER_HOME=$(AWS_DEMO_HOME)/dagster GENOLAKE_REPORT_COHORT='$(DEMO_COHORT)' \
	  $(BIN)/genolake demo-aws $(DEMO_FILES)

# checkov (Terraform static analysis) in its own environment: installed beside the app it downgrades boto3/botocore.
# tests/terraform runs it with --skip-download (no vendor API calls).
CHECKOV_VENV := .ci/checkov-venv
CHECKOV_VERSION := 3.3.30
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
$(CHECKOV_STAMP): | $(STAMP)
	@test -x $(CHECKOV_VENV)/bin/python || $(BIN)/uv venv -q --python $(PYTHON) $(CHECKOV_VENV)
	$(BIN)/uv pip install -q --python $(CHECKOV_VENV)/bin/python checkov==$(CHECKOV_VERSION)
	@rm -f $(CHECKOV_VENV)/.installed-*
	@touch $@

test: $(STAMP) $(CHECKOV_STAMP) java bcftools plink  ## run the test suite (installs Debian's bcftools and plink1.9 for the parity suites if missing)
	$(BIN)/python -m pytest

checkov-env: $(CHECKOV_STAMP)  ## checkov in its own environment (.ci/checkov-venv), for the Terraform checks

test-terraform: $(STAMP) $(CHECKOV_STAMP)  ## only the Terraform checks (fmt, offline validate, HCL wiring, policy roles, checkov, apply to moto)
	$(BIN)/python -m pytest tests/terraform

bench: $(STAMP) java bcftools  ## benchmark the ingest kernel and the whole `genolake ingest` path against bcftools (Hail after make hail-env): SIZE=S (default), M or L; BENCH_ARGS="--only path --path-runs 3"
	$(BIN)/python -m benchmarks.run --size $(SIZE) $(BENCH_ARGS)

bench-files: $(STAMP) java bcftools  ## many single-sample VCFs landed at once and one at a time (FILES=200): per-file cost as the lakehouse grows
	$(BIN)/python -m benchmarks.many_files --files $(FILES) $(BENCH_ARGS)

HAIL_VENV := benchmarks/.hail-venv
hail-env: $(STAMP)  ## optional: Hail 0.2.139 in its own environment (benchmarks/.hail-venv), measured by make bench
	@test -x $(HAIL_VENV)/bin/python || $(BIN)/uv venv -q --python $(PYTHON) $(HAIL_VENV)
	$(BIN)/uv pip install -q --python $(HAIL_VENV)/bin/python hail==0.2.139

dev: $(STAMP) java  ## open the Dagster UI (dagster dev) on http://127.0.0.1:3000 over the demo's home
	GENOLAKE_REPORT_COHORT="$${GENOLAKE_REPORT_COHORT:-$(DEMO_COHORT)}" $(BIN)/genolake dev --port 3000

clean:  ## remove the local home (landing, raw, warehouse, catalog, Dagster runs) and the aws demo's
	rm -rf $(GENOLAKE_HOME) $(AWS_DEMO_HOME)
