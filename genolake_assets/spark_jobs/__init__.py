"""Spark job entry points launched from assets through Dagster Pipes (EMR Serverless in aws mode). Each is a
plain script: it imports the transforms and ``dagster_pipes`` (the small, dependency-free side of Pipes), never
``dagster``."""
