"""Spark: one session per process (local[*] here), started on first use, never at import."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from dagster_pyspark import LazyPySparkResource
from pydantic import Field

LOCAL_SPARK_CONFIG: dict[str, Any] = {
    "spark.master": "local[*]",
    "spark.app.name": "genolake",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # The driver heap (local mode: driver and executor are one JVM). Checks, QC and annotation never collect a table
    # to the driver (the large aggregations run in DuckDB or spill), so the heap does not grow with the file: 1 GiB
    # runs a chromosome-scale cohort file (the bench's L: 1M records x 2504 samples) and keeps the whole process
    # tree (JVM ~1.3 GB resident, genolake ~0.6 GB, a Python worker) within 2.5 GB. GENOLAKE_SPARK_DRIVER_MEMORY
    # overrides it (e.g. 4g on a bigger machine).
    "spark.driver.memory": "1g",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.python.worker.reuse": "true",
    # At most one idle Python worker (htslib parsing) is kept once the parse is done: nothing after it runs Python in
    # Spark, and each idle worker holds ~200 MB for the rest of the run
    "spark.python.factory.idleWorkerMaxPoolSize": "1",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # Partition folders are strings (chromosome=22 must not become an integer column).
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
}
# The driver's log4j2 configuration: warnings and errors, no start-up banner (absent when installed without the repo).
LOG4J2_PROPERTIES = Path(__file__).with_name("log4j2.properties")
if LOG4J2_PROPERTIES.exists():
    LOCAL_SPARK_CONFIG["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={LOG4J2_PROPERTIES.as_uri()}"


def prepare_environment() -> None:
    """Environment Spark reads when its JVM starts: loopback only, workers on this interpreter."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


class SparkResource(LazyPySparkResource):
    """dagster-pyspark's lazy session with genolake's local defaults; the session is shared per process."""

    spark_config: dict[str, Any] = Field(default_factory=lambda: dict(LOCAL_SPARK_CONFIG))

    def _init_session(self) -> None:
        from dagster_pyspark.resources import spark_session_from_config

        prepare_environment()
        if self._spark_session is None:
            config = dict(self.spark_config)
            memory = os.environ.get("GENOLAKE_SPARK_DRIVER_MEMORY", "").strip()
            if memory:  # read when the session starts (the JVM's heap is fixed then), never at import
                config["spark.driver.memory"] = memory
            self._spark_session = spark_session_from_config(config)
        self._spark_session.sparkContext.setLogLevel("ERROR")
