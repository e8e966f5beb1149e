import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def pytest_configure(config):
    """The test process's own Spark JVM (shared by ~400 tests, many of which build DataFrames from in-memory tables
    on the driver, which genolake's runs never do) gets a 2 GiB heap; at the product's 1 GiB it ran out of heap
    three quarters of the way through a full `make test`. Only this process: a `genolake` the tests start as a
    subprocess keeps the product's 1 GiB, and GENOLAKE_SPARK_DRIVER_MEMORY still overrides both."""
    from resources import spark

    spark.LOCAL_SPARK_CONFIG["spark.driver.memory"] = "2g"


ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
VCF_100 = SAMPLE / "1kgp3_chr22_COMT_CYP2D6_GRCh37.100samples.vcf.gz"
VCF_CYP2D6 = SAMPLE / "1kgp3_chr22_CYP2D6_GRCh37.vcf.gz"
VCF_COMT = SAMPLE / "1kgp3_chr22_COMT_GRCh37.vcf.gz"
CLINVAR = SAMPLE / "variant_summary.2021-01.chr22_or_response.subset.txt.gz"


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole test session (starting one costs ~10 s)."""
    from resources.spark import SparkResource

    return SparkResource().spark_session


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh GENOLAKE_HOME (and DAGSTER_HOME inside it) for one test."""
    path = tmp_path / "genolake"
    monkeypatch.setenv("GENOLAKE_HOME", str(path))
    monkeypatch.setenv("DAGSTER_HOME", str(path / "dagster"))
    monkeypatch.delenv("GENOLAKE_MODE", raising=False)
    return path


def copy_with_index(src: Path, dest_dir: Path, name: str | None = None) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / (name or src.name)
    shutil.copyfile(src, target)
    for suffix in (".tbi", ".csi"):
        if Path(str(src) + suffix).exists():
            shutil.copyfile(str(src) + suffix, str(target) + suffix)
    return target


DEMO_FILES = [VCF_CYP2D6, VCF_COMT, SAMPLE / "variant_summary.2021-01.chr22_or_response.subset.txt.gz"]
DEMO_COHORT = "NA12%"  # the Makefile's DEMO_COHORT: make demo passes it (genolake's default cohort is every sample)


@pytest.fixture
def demo_cohort(monkeypatch):
    """The demo's report cohort as the GENOLAKE_REPORT_COHORT setting (tests of the 19-row demo report)."""
    monkeypatch.setenv("GENOLAKE_REPORT_COHORT", DEMO_COHORT)
    return DEMO_COHORT


def cli_env(home: Path, extra: dict | None = None) -> dict:
    """The environment of a `genolake` subprocess on ``home`` (no AWS or GENOLAKE settings of the caller)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GENOLAKE_"))}
    env.update(GENOLAKE_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), GX_ANALYTICS_ENABLED="false",
               DAGSTER_DISABLE_TELEMETRY="1", SPARK_LOCAL_IP="127.0.0.1", **(extra or {}))
    return env


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory):
    """`make demo`'s ingest (the Makefile's DEMO_FILES, local mode) in a subprocess, once per test session:
    (home, everything it printed)."""
    import subprocess
    import sys

    makefile = (ROOT / "Makefile").read_text()
    assert all(f"$(SAMPLE)/{path.name}" in makefile for path in DEMO_FILES), "DEMO_FILES changed: update conftest"
    assert f"DEMO_COHORT := {DEMO_COHORT}\n" in makefile and "ingest --cohort '$(DEMO_COHORT)'" in makefile
    home = tmp_path_factory.mktemp("demo") / "home"
    done = subprocess.run([sys.executable, "-m", "genolake_assets.cli", "ingest", "--cohort", DEMO_COHORT,
                           *map(str, DEMO_FILES)], cwd=ROOT,
                          env=cli_env(home), capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return home, done.stdout + done.stderr
