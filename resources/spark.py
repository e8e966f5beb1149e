"""Spark: one session per process (local[*] here), started on first use, never at import."""

from __future__ import annotations

import os
import sys
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
    "spark.driver.memory": "2g",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.python.worker.reuse": "true",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # Partition folders are strings (chromosome=22 must not become an integer column).
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
}


def prepare_environment() -> None:
    """Environment Spark reads when its JVM starts: loopback only, workers on this interpreter."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


class SparkResource(LazyPySparkResource):
    """dagster-pyspark's lazy session with genolake's local defaults; the session is shared per process."""

    spark_config: dict[str, Any] = Field(default_factory=lambda: dict(LOCAL_SPARK_CONFIG))

    def _init_session(self) -> None:
        prepare_environment()
        super()._init_session()
        self._spark_session.sparkContext.setLogLevel("ERROR")
