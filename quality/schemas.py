"""pandera schemas built from the table contracts (genolake_assets.transforms.tables) plus value rules.

Every rule is written ONCE, as a SQL predicate that is true on a failing row (``Rule.fail``); a SQL NULL (a null
value) never fails a value rule, as in pandera (``ignore_na``). From it come:

* the pandera check: a pandera builtin (``Rule.builtin``: ge, in_range, isin, str_matches) for one-column rules,
  or, for rules over several columns / rows (``ac <= an``, key uniqueness, sorted, sums per group), a
  DataFrameSchema check that evaluates the same SQL with DuckDB;
* the filter that finds the failing rows on Spark, where pandera gives no rows: all rules in one Spark SQL
  projection (``coalesce(fail, false) AS __rule_i``).

``validate(table_name, data)``: ``data`` is a pyarrow.Table (validated by pandera's pandas backend on a frame with
nullable dtypes, so an int column with nulls stays int; failing rows come from pandera's failure cases) or a
pyspark DataFrame (pandera.pyspark for the schema; every value rule in one Spark SQL pass for the verdict and the
rows). Both give the same ``failing_rows`` (distinct rows failing any rule) and ``sample`` (those rows, all columns). A column of the wrong type (or a
missing or unexpected column) fails the whole table: every row counts as failing and the message names the
column, the expected and the actual type; the value rules of that column are not evaluated.

Which backend: genolake_assets/checks.py validates a file's tables in-process (Arrow, pandas) up to SMALL_ROWS rows,
counted from the Parquet footers (``parquet_rows``), and with Spark above.

No dagster import (also runs in Glue/EMR job scripts).
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass

from genolake_assets.transforms.tables import TABLES, Table

from .outcome import SAMPLE_ROWS, CheckOutcome

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

# Glue scalar type -> pandas dtype of the validated frame (nullable extension dtypes; other types: object)
PANDAS_DTYPES = {
    "bigint": "Int64", "int": "Int32", "smallint": "Int16", "tinyint": "Int8",
    "double": "Float64", "float": "Float32", "boolean": "boolean", "string": "string", "date": "date",
}

CLINVAR_ASSEMBLIES = ["GRCh37", "GRCh38", "NCBI36"]
GENOTYPE_REGEX = r"^([.]|[0-9]+)([|/]([.]|[0-9]+))*$"  # no backslashes: the same literal works in DuckDB and Spark SQL


# ----------------------------------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    """One value rule. ``fail``: SQL (DuckDB spelling, identifiers in double quotes) true on a failing row; may use
    window functions. ``builtin``: (pandera builtin check, args, kwargs) for a one-column rule; None for a frame
    rule (evaluated with DuckDB inside pandera). ``regex``: for str_matches rules (dialect-specific SQL)."""

    name: str
    columns: tuple[str, ...]
    fail: str = ""
    builtin: tuple | None = None
    regex: str | None = None
    nullability: bool = False  # a contract's NOT NULL (pandera: Column(nullable=False), check 'not_nullable')

    def sql(self, dialect: str = "duckdb") -> str:
        if self.regex is not None:
            column = self.columns[0]
            text = (f"NOT regexp_full_match(\"{column}\", '{self.regex}')" if dialect == "duckdb"
                    else f"NOT (\"{column}\" RLIKE '{self.regex}')")
        else:
            text = self.fail
        return text.replace('"', "`") if dialect == "spark" else text


def _lit(value) -> str:
    return repr(value) if isinstance(value, (int, float)) else "'" + str(value).replace("'", "''") + "'"


def ge(column: str, value) -> Rule:
    return Rule(f"{column} >= {value}", (column,), f'"{column}" < {_lit(value)}', ("ge", (value,), {}))


def gt(column: str, value) -> Rule:
    return Rule(f"{column} > {value}", (column,), f'"{column}" <= {_lit(value)}', ("gt", (value,), {}))


def in_range(column: str, low, high, include_min: bool = True, include_max: bool = True) -> Rule:
    name = f"{column} in {'[' if include_min else '('}{low}, {high}{']' if include_max else ')'}"
    fail = (f'"{column}" {"<" if include_min else "<="} {_lit(low)} OR '
            f'"{column}" {">" if include_max else ">="} {_lit(high)}')
    return Rule(name, (column,), fail,
                ("in_range", (low, high), {"include_min": include_min, "include_max": include_max}))


def isin(column: str, values: list) -> Rule:
    return Rule(f"{column} in {values}", (column,), f'"{column}" NOT IN ({", ".join(_lit(v) for v in values)})',
                ("isin", (list(values),), {}))


def matches(column: str, regex: str) -> Rule:
    return Rule(f"{column} matches {regex}", (column,), builtin=("str_matches", (regex,), {}), regex=regex)


def frame(name: str, columns: tuple[str, ...], fail: str) -> Rule:
    return Rule(name, tuple(columns), fail)


def unique(*keys: str) -> Rule:
    """Rows whose key occurs more than once fail (all copies: the user sees every row of a duplicated key)."""
    cols = ", ".join(f'"{k}"' for k in keys)
    return frame(f"unique ({', '.join(keys)})", keys, f"count(*) OVER (PARTITION BY {cols}) > 1")


def _counts(*columns: str) -> list[Rule]:
    return [ge(c, 0) for c in columns]


def _value_rules() -> dict[str, list[Rule]]:
    return {
        "sites": [
            ge("start", -1),  # POS 0 (telomere) is valid VCF
            ge("alt_index", 1),
            ge("n_alleles", 2),
            *_counts("n_hom_ref", "n_het", "n_hom_alt", "n_missing", "ac", "an"),
            in_range("af", 0.0, 1.0),
            ge("hom_ref_ploidy", 1),
            frame("alt_index < n_alleles", ("alt_index", "n_alleles"), '"alt_index" >= "n_alleles"'),
            frame("end >= start", ("start", "end"), '"end" < "start"'),
            frame("ac <= an", ("ac", "an"), '"ac" > "an"'),
            frame("af = ac / an (null when an = 0)", ("ac", "an", "af"),
                  '("an" > 0 AND ("af" IS NULL OR abs("af" - CAST("ac" AS DOUBLE) / "an") > 1e-9)) '
                  'OR ("an" = 0 AND "af" IS NOT NULL)'),
        ],
        "calls": [
            ge("start", -1),
            ge("alt_index", 1),
            ge("allele1", -1),
            ge("allele2", -1),
            ge("dp", 0),
            ge("gq", 0),
        ],
        "samples": [
            ge("sample_index", 0),
            unique("source_file", "sample_id"),
        ],
        "clinvar": [
            gt("allele_id", 0),
            gt("position_vcf", 0),
            gt("gene_id", 0),
            gt("rs_dbsnp", 0),
            isin("clin_sig_simple", [-1, 0, 1]),
            isin("assembly", CLINVAR_ASSEMBLIES),
            matches("rsid", r"^rs[0-9]+$"),
            ge("number_submitters", 0),
            frame("vcf_start = position_vcf - 1", ("vcf_start", "position_vcf"),
                  '"vcf_start" IS DISTINCT FROM "position_vcf" - 1'),
        ],
        "annotated_variants": [
            ge("start", -1),
            ge("alt_index", 1),
            gt("allele_id", 0),
            *_counts("ac", "an"),
            in_range("af", 0.0, 1.0),
            isin("assembly", CLINVAR_ASSEMBLIES),
            frame("ac <= an", ("ac", "an"), '"ac" > "an"'),
        ],
        "variant_qc": [
            ge("start", -1),
            ge("alt_index", 1),
            *_counts("n_samples", "n_called", "n_hom_ref", "n_het", "n_hom_alt"),
            *(in_range(c, 0.0, 1.0) for c in ("call_rate", "af", "het_observed", "het_expected", "hwe_p")),
            in_range("maf", 0.0, 0.5),
            frame("n_called = n_hom_ref + n_het + n_hom_alt", ("n_called", "n_hom_ref", "n_het", "n_hom_alt"),
                  '"n_called" <> "n_hom_ref" + "n_het" + "n_hom_alt"'),
            frame("n_called <= n_samples", ("n_called", "n_samples"), '"n_called" > "n_samples"'),
            frame("qc_pass = no flag", ("qc_pass", "low_call_rate", "low_maf", "hwe_failed"),
                  '"qc_pass" <> (NOT ("low_call_rate" OR "low_maf" OR "hwe_failed"))'),
        ],
        "sample_qc": [
            *_counts("n_sites", "n_called", "n_hom_ref", "n_het", "n_hom_alt", "n_missing", "n_non_ref",
                     "n_transitions", "n_transversions", "n_indels"),
            in_range("call_rate", 0.0, 1.0),
            in_range("het_rate", 0.0, 1.0),
            ge("ti_tv", 0.0),
            unique("source_file", "sample_id"),
            frame("n_hom_ref + n_het + n_hom_alt + n_missing = n_sites",
                  ("n_hom_ref", "n_het", "n_hom_alt", "n_missing", "n_sites"),
                  '"n_hom_ref" + "n_het" + "n_hom_alt" + "n_missing" <> "n_sites"'),
            frame("n_called = n_sites - n_missing", ("n_called", "n_sites", "n_missing"),
                  '"n_called" <> "n_sites" - "n_missing"'),
            frame("n_non_ref = n_het + n_hom_alt", ("n_non_ref", "n_het", "n_hom_alt"),
                  '"n_non_ref" <> "n_het" + "n_hom_alt"'),
            frame("qc_pass = not low_call_rate", ("qc_pass", "low_call_rate"), '"qc_pass" = "low_call_rate"'),
        ],
        "drug_response_report": [
            ge("rank", 1),
            unique("rank"),
            matches("genotype", GENOTYPE_REGEX),
            ge("genotype0", -1),
            ge("genotype1", -1),
            in_range("frequency", 0.0, 1.0, include_min=False),
            ge("sample_count", 1),
            ge("cohort_size", 1),
            ge("position", 1),
            frame("sample_count <= cohort_size", ("sample_count", "cohort_size"), '"sample_count" > "cohort_size"'),
            frame("frequency = sample_count / cohort_size", ("frequency", "sample_count", "cohort_size"),
                  'abs("frequency" - CAST("sample_count" AS DOUBLE) / "cohort_size") > 1e-9'),
            # Genotype frequencies of one variant can never add up to more than the whole cohort: all its rows fail.
            frame("frequencies_of_a_variant_sum_to_at_most_1", ("chromosome", "position", "ref", "alt", "frequency"),
                  'sum("frequency") OVER (PARTITION BY "chromosome", "position", "ref", "alt") > 1.0 + 1e-9'),
            # Sorted by frequency: a row whose frequency is above the one ranked just before it fails.
            frame("sorted_by_frequency", ("rank", "frequency"),
                  '"frequency" > lag("frequency") OVER (ORDER BY "rank")'),
        ],
    }


RULES: dict[str, list[Rule]] = _value_rules()


def rules(table_name: str) -> list[Rule]:
    """All rules of a table: the contract's NOT NULLs, then the value rules."""
    table = TABLES[table_name]
    nulls = [Rule(f"{c.name} not null", (c.name,), f'"{c.name}" IS NULL', nullability=True)
             for c in table.all_columns if not c.nullable]
    return nulls + RULES.get(table_name, [])


# ----------------------------------------------------------------------------------------------------- types


def _split_type_args(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += ch == "<"
        depth -= ch == ">"
        current += ch
    return parts + [current.strip()]


def arrow_type(glue: str):
    """pyarrow type of a Glue type string (array<...> and map<...> nested)."""
    import pyarrow as pa

    scalars = {"string": pa.string(), "bigint": pa.int64(), "int": pa.int32(), "smallint": pa.int16(),
               "tinyint": pa.int8(), "double": pa.float64(), "float": pa.float32(), "boolean": pa.bool_(),
               "date": pa.date32(), "timestamp": pa.timestamp("us")}
    if glue in scalars:
        return scalars[glue]
    if glue.startswith("array<"):
        return pa.list_(arrow_type(glue[6:-1]))
    if glue.startswith("map<"):
        key, value = _split_type_args(glue[4:-1])
        return pa.map_(arrow_type(key), arrow_type(value))
    raise ValueError(f"unknown type {glue}")


def spark_type(glue: str):
    from pyspark.sql import types as T

    if glue.startswith("array<"):
        return T.ArrayType(spark_type(glue[6:-1]))
    if glue.startswith("map<"):
        key, value = _split_type_args(glue[4:-1])
        return T.MapType(spark_type(key), spark_type(value))
    return getattr(T, SPARK_TYPE_NAMES[glue])()


def _glue_of_arrow(dtype) -> str:
    """Glue spelling of an Arrow type (for messages and comparisons); dictionary<..., string> reads as string."""
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_dictionary(dtype):
        return _glue_of_arrow(dtype.value_type)
    if t.is_list(dtype) or t.is_large_list(dtype):
        return f"array<{_glue_of_arrow(dtype.value_type)}>"
    if t.is_map(dtype):
        return f"map<{_glue_of_arrow(dtype.key_type)},{_glue_of_arrow(dtype.item_type)}>"
    if t.is_timestamp(dtype):
        return "timestamp"
    names = {pa.string(): "string", pa.large_string(): "large_string", pa.int64(): "bigint", pa.int32(): "int",
             pa.int16(): "smallint", pa.int8(): "tinyint", pa.float64(): "double", pa.float32(): "float",
             pa.bool_(): "boolean", pa.date32(): "date"}
    return names.get(dtype, str(dtype))


def _type_problems(table: Table, actual: dict[str, str], spelled: dict[str, str]) -> list[tuple[str, str]]:
    """(column, message) for missing, unexpected and wrongly typed columns. ``actual``: column -> Glue spelling."""
    problems = []
    for column in table.all_columns:
        if column.name not in actual:
            problems.append((column.name, f"{column.name}: missing column (expected {column.type})"))
        elif actual[column.name] != column.type:
            problems.append((column.name, f"{column.name}: expected type {column.type}, got {spelled[column.name]}"))
    expected = set(table.column_names)
    problems += [(name, f"{name}: unexpected column ({spelled[name]})") for name in actual if name not in expected]
    return problems


# ------------------------------------------------------------------------------------------- pandas backend


def _frame_check(rule: Rule):
    """A pandera DataFrameSchema check evaluating the rule's SQL with DuckDB: a boolean Series (True = passes)."""
    import pandera.pandas as pa

    columns = list(rule.columns)
    sql = rule.sql("duckdb")

    def check(df):
        import duckdb
        import numpy as np
        import pandas as pd
        import pyarrow

        data = pyarrow.Table.from_pandas(df[columns], preserve_index=False).append_column(
            "__row", pyarrow.array(np.arange(len(df), dtype=np.int64)))
        con = duckdb.connect()
        try:
            con.register("t", data)
            failing = con.sql(f"SELECT __row FROM (SELECT __row, coalesce({sql}, false) AS __f FROM t) "
                              "WHERE __f").to_arrow_table()["__row"].to_numpy()
        finally:
            con.close()
        ok = np.ones(len(df), dtype=bool)
        ok[failing] = False
        return pd.Series(ok, index=df.index)

    return pa.Check(check, name=rule.name)


@functools.lru_cache(maxsize=None)
def pandas_schema(table_name: str, skip: frozenset = frozenset()):
    """pandera (pandas) schema of a table: contract dtypes (nullable), NOT NULLs and the value rules. Rules on the
    columns in ``skip`` (wrong type or missing) are left out: they could not be evaluated."""
    import pandera.pandas as pa

    table = TABLES[table_name]
    value_rules = [r for r in RULES.get(table_name, []) if not set(r.columns) & skip]
    columns = {}
    for column in table.all_columns:
        checks = [getattr(pa.Check, r.builtin[0])(*r.builtin[1], name=r.name, error=r.name, **r.builtin[2])
                  for r in value_rules if r.builtin and r.columns[0] == column.name]
        columns[column.name] = pa.Column(PANDAS_DTYPES.get(column.type, object), nullable=column.nullable,
                                         checks=checks)
    frame_checks = [_frame_check(r) for r in value_rules if not r.builtin]
    return pa.DataFrameSchema(columns, checks=frame_checks, name=table.qualified_name, strict=True)


def to_pandas(table):
    """pyarrow.Table -> pandas frame with nullable dtypes (ints with nulls stay ints; dictionaries decoded)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.types as t

    columns = [c.cast(c.type.value_type) if t.is_dictionary(c.type) else c for c in table.columns]
    table = pa.Table.from_arrays(columns, names=table.column_names)
    mapper = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
              pa.int64(): pd.Int64Dtype(), pa.float32(): pd.Float32Dtype(), pa.float64(): pd.Float64Dtype(),
              pa.bool_(): pd.BooleanDtype(), pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype()}
    return table.to_pandas(types_mapper=mapper.get)


_SCHEMA_LEVEL = re.compile(r"^(dtype\(|column_in_schema|column_in_dataframe|column_ordered|multiple_occurrences)")


def _validate_arrow(table_name: str, data) -> CheckOutcome:
    import numpy as np
    import pandera.errors

    table = TABLES[table_name]
    spelled = {f.name: _glue_of_arrow(f.type) for f in data.schema}
    problems = _type_problems(table, spelled, spelled)
    skip = frozenset(c for c, _ in problems)
    frame_ = to_pandas(data)
    cases = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            pandas_schema(table_name, skip).validate(frame_, lazy=True)
        except pandera.errors.SchemaErrors as exc:
            cases = exc.failure_cases
    by_rule: dict[str, set] = {}
    other: list[str] = []
    if cases is not None:
        for row in cases.itertuples(index=False):
            check, column, index = str(row.check), row.column, row.index
            if check == "not_nullable":
                check = f"{column} not null"
            if _SCHEMA_LEVEL.match(check) or index is None or (isinstance(index, float) and np.isnan(index)):
                if column not in skip:  # already named (with expected and actual type) by _type_problems
                    other.append(f"{column}: {check} (got {row.failure_case})")
                continue
            by_rule.setdefault(check, set()).add(int(index))
    return _outcome(data, problems, other, {k: (len(v), v) for k, v in by_rule.items()}, table_name)


def _outcome(data, problems, other, by_rule: dict[str, tuple[int, set | None]], table_name: str,
             failing_rows: int | None = None, sample=None) -> CheckOutcome:
    """Assemble the outcome. by_rule: rule name -> (failing rows, row positions or None)."""
    import pyarrow as pa

    order = {r.name: i for i, r in enumerate(rules(table_name))}
    messages = [m for _, m in problems] + list(dict.fromkeys(other))
    counts = {name: n for name, (n, _) in sorted(by_rule.items(), key=lambda kv: order.get(kv[0], 1 << 30)) if n}
    messages += [f"{name}: {n} rows fail" for name, n in counts.items()]
    details = {"rows": int(data.num_rows) if hasattr(data, "num_rows") else None, "rules": len(rules(table_name)),
               **{f"failing: {k}": v for k, v in counts.items()}}
    if not messages:
        return CheckOutcome(True, "", 0, None, details, engine="pandera")
    if failing_rows is None:  # arrow input: rows from positions
        if problems or other:
            positions = list(range(data.num_rows))
        else:
            positions = sorted(set().union(*(rows for _, rows in by_rule.values() if rows)))
        failing_rows = len(positions)
        sample = data.take(pa.array(positions[:SAMPLE_ROWS], pa.int64()))
    return CheckOutcome(False, f"{TABLES[table_name].name}: " + "; ".join(messages), failing_rows, sample, details,
                        engine="pandera")


# -------------------------------------------------------------------------------------------- Spark backend


def spark_schema(table: Table, actual: dict | None = None, skip: frozenset = frozenset(), nulls: bool = True):
    """pandera.pyspark schema of a table. ``actual``: column -> Spark type of the data; a nested type whose Glue
    spelling matches the contract is taken as is (nullability flags of array elements are not part of the contract).
    ``nulls=False`` leaves the contract's NOT NULLs out (pandera counts each column's nulls in a Spark job of its
    own: _validate_spark evaluates them with the value rules in one pass instead)."""
    import pandera.pyspark as pas

    value_rules = [r for r in RULES.get(table.name, []) if r.builtin and not set(r.columns) & skip]
    columns = {}
    for column in table.all_columns:
        dtype = spark_type(column.type)
        if actual and column.name in actual and actual[column.name].simpleString() == column.type:
            dtype = actual[column.name]
        checks = [getattr(pas.Check, r.builtin[0])(*r.builtin[1], **r.builtin[2])
                  for r in value_rules if r.columns[0] == column.name]
        columns[column.name] = pas.Column(dtype, nullable=column.nullable or not nulls, checks=checks)
    return pas.DataFrameSchema(columns, name=table.qualified_name, strict=True)


def _flatten(errors: dict) -> list[tuple[str, str, str]]:
    """pandera.pyspark error report -> [(level, column, message)]."""
    out = []
    for level, by_type in errors.items():
        for check_type, items in by_type.items():
            for item in items:
                out.append((level, str(item.get("column", "")),
                            f"{level}/{check_type}: {item.get('column', '')} {item.get('check', '')}: "
                            f"{item.get('error', '')}".strip()))
    return out


def _validate_spark(table_name: str, df) -> CheckOutcome:
    from pyspark.sql import functions as F

    table = TABLES[table_name]
    actual = {f.name: f.dataType for f in df.schema.fields}
    spelled = {name: dtype.simpleString() for name, dtype in actual.items()}
    problems = _type_problems(table, spelled, spelled)
    skip = frozenset(c for c, _ in problems)
    # pandera checks the schema (columns, types: no Spark job); the value rules, pandera's checks of the same
    # rules included, are evaluated below in ONE Spark pass (pandera.pyspark runs a job per check: 25 jobs on sites)
    from pandera.config import ValidationDepth, config_context

    with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
        errors = spark_schema(table, actual, skip, nulls=False).validate(df).pandera.errors
    reported = _flatten(errors) if errors else []
    checked = [r for r in rules(table_name) if not set(r.columns) & skip]
    flags = [f"__rule_{i}" for i in range(len(checked))]
    by_rule: dict[str, tuple[int, None]] = {}
    failing_rows, sample = 0, None
    if problems:  # the whole table is wrongly shaped: every row fails
        failing_rows = df.count()
        sample = df.limit(SAMPLE_ROWS).toArrow()
    if checked:
        spark = df.sparkSession
        projection = ", ".join(f"coalesce({r.sql('spark')}, false) AS {flag}" for r, flag in zip(checked, flags))
        failing = spark.sql(f"SELECT * FROM (SELECT *, {projection} FROM {{t}}) WHERE {' OR '.join(flags)}", t=df)
        row = failing.agg(F.count(F.lit(1)).alias("n"),
                          *(F.sum(F.col(f).cast("long")).alias(f) for f in flags)).collect()[0]
        by_rule = {r.name: (int(row[f] or 0), None) for r, f in zip(checked, flags)}
        if row["n"] and not problems:
            failing_rows = int(row["n"])
            sample = failing.drop(*flags).limit(SAMPLE_ROWS).toArrow()
    # pandera's own findings: schema-level ones not named yet, data ones on a column with no failing rule counted
    counted_columns = {c for r in checked if by_rule.get(r.name, (0,))[0] for c in r.columns}
    other = [message for level, column, message in reported
             if column not in skip and column not in counted_columns]
    outcome = _outcome(_Rows(failing_rows), problems, other, by_rule, table_name, failing_rows, sample)
    outcome.details["rows"] = None
    return outcome


@dataclass
class _Rows:
    num_rows: int


# ----------------------------------------------------------------------------------------------------- API


def _is_spark(data) -> bool:
    return hasattr(data, "sparkSession") and hasattr(data, "rdd")


def validate(table_name: str, data) -> CheckOutcome:
    """Validate a table's rows against its contract and rules: data = pyarrow.Table (pandas backend) or a pyspark
    DataFrame (pandera.pyspark + Spark SQL for the rows); a pandas DataFrame is taken as Arrow."""
    if table_name not in TABLES:
        raise KeyError(f"no contract for table {table_name!r}")
    if _is_spark(data):
        return _validate_spark(table_name, data)
    import pyarrow as pa

    if not isinstance(data, pa.Table):
        data = pa.Table.from_pandas(data, preserve_index=False)
    return _validate_arrow(table_name, data)


def parquet_rows(paths: list[str]) -> int:
    """Rows of Parquet files, from their footers (no data read)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in paths)
