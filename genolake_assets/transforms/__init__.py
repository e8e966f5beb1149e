"""Pure transforms: PySpark/Arrow functions with no dagster import, runnable as a Glue/EMR job script."""
