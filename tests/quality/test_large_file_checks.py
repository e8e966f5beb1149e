"""A large file is checked where the data is, never collected to the driver.

`genolake ingest` of a 2504-sample file whose calls table is far above the in-process threshold (SMALL_ROWS), run
with Spark's driver result cap (spark.driver.maxResultSize) at its minimum, 1 MiB: any step that brought a table to
the driver (toArrow, toPandas, collect) would fail the run. It must exit 0 with every check of the file evaluated
and passed, through the whole path (checks, QC, annotation, report, governance). The control shows the cap bites:
reading the same calls files into the driver fails under it.
"""

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from benchmarks.generate import SAMPLES, generate
from genolake_assets.checks import SMALL_ROWS
from tests.conftest import CLINVAR, ROOT, cli_env

pytestmark = pytest.mark.slow

CAP = {"PYSPARK_SUBMIT_ARGS": "--conf spark.driver.maxResultSize=1m pyspark-shell"}


def test_a_large_file_is_checked_without_collecting_it(tmp_path):
    vcf = generate("cap", 3, tmp_path / "data", records=8000)
    home = tmp_path / "home"
    env = cli_env(home, CAP)
    done = subprocess.run([sys.executable, "-m", "genolake_assets.cli", "ingest", str(vcf), str(CLINVAR)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    assert "(8 checks passed;" in output and "check failed" not in output, output[-3000:]
    assert "maxResultSize" not in output

    # the file's tables were big enough to take the Spark path, and all of them were committed
    calls = sorted((home / "warehouse" / "calls" / "data").rglob("*.parquet"))
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in calls)
    assert rows > 9 * SMALL_ROWS  # ~1M call rows: ten times the in-process threshold
    counted = subprocess.run([sys.executable, "-m", "genolake_assets.cli", "query", "--format", "json",
                              "SELECT (SELECT count(*) FROM genolake.samples) AS samples, "
                              "(SELECT count(*) FROM genolake.calls) AS calls, "
                              "(SELECT count(*) FROM genolake.variant_qc) AS variant_qc, "
                              "(SELECT count(*) FROM genolake.sample_qc) AS sample_qc"],
                             cwd=ROOT, env=cli_env(home), capture_output=True, text=True, timeout=300)
    assert counted.returncode == 0, counted.stderr[-3000:]
    assert json.loads(counted.stdout) == [{"samples": SAMPLES, "calls": rows, "variant_qc": pytest.approx(8000, rel=0.05),
                                           "sample_qc": SAMPLES}]

    # control: under the same cap, collecting those calls to the driver fails
    script = ("import sys; from resources.spark import SparkResource; s = SparkResource().spark_session; "
              "s.read.parquet(*sys.argv[1:]).toArrow()")
    control = subprocess.run([sys.executable, "-c", script, *map(str, calls)], cwd=ROOT,
                             env={**os.environ, **CAP, "SPARK_LOCAL_IP": "127.0.0.1"}, capture_output=True,
                             text=True, timeout=600)
    assert control.returncode != 0 and "maxResultSize" in control.stderr, control.stderr[-3000:]
