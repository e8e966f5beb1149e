"""pandera schemas built from the table contracts (genolake_assets.transforms.tables) plus value rules.

pandera on pyspark records errors instead of raising, and gives no failing-row counts: ``validate_spark``
turns its error report into a list of readable messages (empty = valid). Uniqueness is checked with a
groupBy, not pandera's ``unique`` (unreliable on pyspark, pandera#1344).
"""

from __future__ import annotations

from dataclasses import dataclass

from genolake_assets.transforms.tables import TABLES, Table

SPARK_TYPE_NAMES = {
    "string": "StringType",
    "bigint": "LongType",
    "int": "IntegerType",
    "smallint": "ShortType",
    "tinyint": "ByteType",
    "double": "DoubleType",
    "float": "FloatType",
    "boolean": "BooleanType",
    "date": "DateType",
    "timestamp": "TimestampType",
}


def _value_checks(Check) -> dict[str, dict[str, list]]:
    return {
        "sites": {
            "start": [Check.ge(-1)],  # POS 0 (telomere) is valid VCF
            "alt_index": [Check.ge(1)],
            "n_alleles": [Check.ge(2)],
            "n_hom_ref": [Check.ge(0)],
            "n_het": [Check.ge(0)],
            "n_hom_alt": [Check.ge(0)],
            "n_missing": [Check.ge(0)],
            "ac": [Check.ge(0)],
            "an": [Check.ge(0)],
            "af": [Check.in_range(0.0, 1.0)],
        },
        "calls": {
            "start": [Check.ge(-1)],
            "alt_index": [Check.ge(1)],
            "allele1": [Check.ge(-1)],
            "allele2": [Check.ge(-1)],
        },
        "samples": {"sample_index": [Check.ge(0)]},
        "clinvar": {"allele_id": [Check.gt(0)], "position_vcf": [Check.gt(0)]},
    }


def spark_schema(table: Table):
    import pandera.pyspark as pas
    from pyspark.sql import types as T

    checks = _value_checks(pas.Check).get(table.name, {})
    columns = {}
    for column in table.all_columns:
        if column.type == "array<string>":
            dtype = T.ArrayType(T.StringType())
        elif column.type == "array<int>":
            dtype = T.ArrayType(T.IntegerType())
        elif column.type == "array<smallint>":
            dtype = T.ArrayType(T.ShortType())
        elif column.type == "map<string,string>":
            dtype = T.MapType(T.StringType(), T.StringType())
        else:
            dtype = getattr(T, SPARK_TYPE_NAMES[column.type])()
        columns[column.name] = pas.Column(dtype, nullable=column.nullable, checks=checks.get(column.name, []))
    return pas.DataFrameSchema(columns, name=table.qualified_name, strict=True)


@dataclass
class QualityResult:
    passed: bool
    messages: list[str]

    def summary(self) -> str:
        return "ok" if self.passed else "; ".join(self.messages)


def _flatten(errors: dict) -> list[str]:
    messages = []
    for level, by_type in errors.items():
        for check_type, items in by_type.items():
            for item in items:
                messages.append(f"{level}/{check_type}: {item.get('column', '')} {item.get('check', '')}: {item.get('error', '')}".strip())
    return messages


def validate_spark(df, table_name: str) -> QualityResult:
    """Validate a Spark DataFrame (data + partition columns) against the table's pandera schema."""
    table = TABLES[table_name]
    # Spark reads dictionary-encoded or narrower Parquet types as they are stored; cast to the contract first.
    validated = spark_schema(table).validate(df.select(*table.column_names))
    errors = validated.pandera.errors
    messages = _flatten(errors) if errors else []
    return QualityResult(not messages, messages)


def duplicate_keys(df, keys: list[str]) -> int:
    """Number of key values that occur more than once."""
    from pyspark.sql import functions as F

    return df.groupBy(*keys).count().where(F.col("count") > 1).count()


def excess_calls(calls, sites) -> int:
    """(sample, site allele) keys with more call rows than there are identical site rows.

    One row per sample and site allele, except that a file may repeat a record verbatim (the VCF specification
    allows duplicate records): then each copy carries its own rows.
    """
    from pyspark.sql import functions as F

    keys = ["chromosome", "start", "ref", "alt"]
    copies = sites.groupBy(*keys).agg(F.count(F.lit(1)).alias("copies"))
    rows = calls.groupBy(*keys, "sample_id").agg(F.count(F.lit(1)).alias("rows"))
    return rows.join(copies, keys, "left").where(F.col("rows") > F.coalesce(F.col("copies"), F.lit(0))).count()


def report_schema():
    """pandera (pandas) schema of the drug-response report: frequencies are fractions of the cohort."""
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {
            "rank": pa.Column(int, pa.Check.ge(1), unique=True),
            "genotype": pa.Column(str, pa.Check.str_matches(r"^(\.|\d+)([|/](\.|\d+))*$")),
            "frequency": pa.Column(float, pa.Check.in_range(0.0, 1.0, include_min=False)),
            "sample_count": pa.Column(int, pa.Check.ge(1)),
            "cohort_size": pa.Column(int, pa.Check.ge(1)),
        },
        checks=[
            # Genotype frequencies of one variant can never add up to more than the whole cohort.
            pa.Check(lambda df: df.groupby(["chromosome", "position", "ref", "alt"])["frequency"].sum() <= 1.0 + 1e-9,
                     name="frequencies_of_a_variant_sum_to_at_most_1"),
            pa.Check(lambda df: df["frequency"].is_monotonic_decreasing, name="sorted_by_frequency"),
        ],
    )


def validate_report(frame) -> QualityResult:
    import pandera.errors

    try:
        report_schema().validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return QualityResult(False, [f"{r['schema_context']}/{r['column']}: {r['check']} (case {r['failure_case']})"
                                     for _, r in cases.head(20).iterrows()])
    return QualityResult(True, [])
