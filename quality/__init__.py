"""Data-quality rules per table: pandera schemas (Spark and pandas) and Great Expectations suites. No dagster."""
