"""Great Expectations 1.x suites of every table, run on pandas in one ephemeral context per process (no files,
no network, no progress bars). The only module of genolake that imports great_expectations.

GX takes the table-level and distribution expectations pandera does not express well: row counts against the
inputs, non-null ratios, the ClinVar join fraction between releases, AF in ``sites`` against AF recomputed from
``calls`` (quality/reconcile.py builds that per-site frame).

``validate(table_name, data, **inputs) -> CheckOutcome(engine="great_expectations")``; the inputs per table
(a missing one raises TypeError):

=====================  ==========================================================================================
sites                  calls (Arrow table of the same file(s)), n_samples (int, or {source_file: int})
calls                  sites, samples (Arrow tables of the same file(s))
samples                n_samples (int: the header's sample count; one file's samples)
clinvar                none
annotated_variants     sites_rows (int), previous_fraction (float or None: the previous release's joined
                       fraction; None skips the drop check), max_drop (relative drop allowed, default 0.1)
variant_qc             sites_rows (int)
sample_qc              samples_rows (int)
drug_response_report   cohort_size (int)
=====================  ==========================================================================================

``data`` and the table inputs are pyarrow Tables (validated by GX's pandas engine in this process) or Spark
DataFrames (validated by GX's Spark datasource where the data is: GX computes each expectation as Spark
aggregates and brings back counts and at most SAMPLE_ROWS row ids; the sites/calls reconciliation is Spark SQL,
quality/reconcile.py; nothing is collected to the driver but counts, the file's sample IDs and sample rows). A
mix is taken as Spark. On failure the message names each failed expectation with its count; ``failing_rows`` is
GX's unexpected_count (on Arrow, distinct rows over the failed expectations of a frame, summed over frames; on
Spark, where only a sample of row ids comes back, the largest count among a frame's failed expectations, exact
when one fails) or, for a row-count expectation, |observed - expected|; ``sample`` holds up to SAMPLE_ROWS
offending rows of the first frame that has some (result_format COMPLETE's unexpected_index_list on pandas, SUMMARY's
partial_unexpected_index_list on Spark): rows of the table itself (all columns), else the derived rows (the
sites/calls reconciliation per site key, the join-fraction row).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from quality.outcome import SAMPLE_ROWS, CheckOutcome

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

ENGINE = "great_expectations"
CLINVAR_ASSEMBLIES = ["GRCh37", "GRCh38", "NCBI36"]
AF_TOLERANCE = 1e-9
MIN_CLINICAL_SIGNIFICANCE_RATIO = 0.9
DEFAULT_MAX_DROP = 0.1

_LOCK = threading.RLock()
_STATE: dict[str, Any] = {}


def _context():
    """The process's ephemeral GX context (built once: importing GX costs ~5 s, the context ~0.03 s)."""
    with _LOCK:
        if "context" not in _STATE:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False)
            _STATE["context"] = context
            _STATE["source"] = context.data_sources.add_pandas("genolake")
            _STATE["batches"] = {}
        return _STATE["context"]


def _is_spark(data) -> bool:
    return hasattr(data, "sparkSession") and hasattr(data, "rdd")


def _batch(name: str, frame):
    """A batch of ``frame`` (pandas, or a Spark DataFrame) through the asset ``name`` of the pandas or the Spark
    datasource (assets and batch definitions are reused)."""
    _context()
    batches = _STATE["batches"]
    source = "spark_source" if _is_spark(frame) else "source"
    if source not in _STATE:
        # Added with the first Spark frame, never before: adding it starts a Spark session when there is none,
        # and a session GX starts has neither genolake's settings nor its Python (its workers would run whatever
        # `python3` is first on PATH). persist=False: GX would otherwise cache every batch it validates and never
        # release it (a cohort file's calls, held by the JVM for the rest of the process).
        _STATE[source] = _STATE["context"].data_sources.add_spark("genolake_spark", persist=False)
    key = (source, name)
    if key not in batches:
        batches[key] = _STATE[source].add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
    return batches[key].get_batch(batch_parameters={"dataframe": frame})


def _run(name: str, frame, suite, parameters: dict | None = None, result_format: Any = "SUMMARY"):
    with _LOCK:
        return _batch(name, frame).validate(suite, result_format=result_format, expectation_parameters=parameters or {})


def _rows(data) -> int:
    return int(data.count()) if _is_spark(data) else int(data.num_rows)


def clinvar_suite():
    import great_expectations as gx

    suite = gx.ExpectationSuite(name="clinvar")
    e = gx.expectations
    suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column="allele_id"))
    suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column="clinical_significance"))
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="assembly", value_set=CLINVAR_ASSEMBLIES))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="position_vcf", min_value=1))
    suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column="reference_allele_vcf", regex=r"^[ACGTN]+$"))
    suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column="alternate_allele_vcf", regex=r"^[ACGTN]+$"))
    suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column="rsid", regex=r"^rs\d+$"))
    suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(column_list=["allele_id", "assembly", "chromosome"]))
    return suite


@dataclass
class _Frame:
    """One pandas frame GX validates, the Arrow rows its index points into, and its expectations with the
    message of each (``{n}`` = failing count, ``{observed}``/``{expected}`` for row counts)."""

    name: str
    rows: Any  # pyarrow.Table (row i of the pandas frame is row i here) or a Spark DataFrame
    columns: list[str]  # columns handed to GX (only those the expectations need)
    expectations: list[tuple[Any, str]] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)
    # derived columns: name -> list/array of len(rows) (Arrow), or a Spark Column expression (Spark)
    extra: dict = field(default_factory=dict)

    def expect(self, expectation, message: str) -> "_Frame":
        self.expectations.append((expectation, message))
        return self


def _e():
    import great_expectations as gx

    _context()
    return gx.expectations


def _pandas(frame: _Frame):
    import pyarrow as pa

    # a missing column is left out: its expectation then fails with GX's "column does not exist"
    present = [c for c in frame.columns if c in frame.rows.column_names]
    table = frame.rows.select(present) if present else pa.table({"_": pa.array([None] * frame.rows.num_rows)})
    df = table.to_pandas()
    for name, values in frame.extra.items():
        df[name] = values
    return df


ROW_ID = "__gx_row"


def _spark_frame(frame: _Frame):
    """(the frame's rows with a row id column, the columns GX gets): ids from monotonically_increasing_id, stable
    across the Spark jobs GX runs because a file scan is planned the same way each time and a computed frame (the
    reconciliation) is cached."""
    from pyspark.sql import functions as F

    rows = frame.rows
    for name, column in frame.extra.items():
        rows = rows.withColumn(name, column)
    rows = rows.withColumn(ROW_ID, F.monotonically_increasing_id())
    present = [c for c in [*frame.columns, *frame.extra] if c in rows.columns]
    return rows, rows.select(*dict.fromkeys([*present, ROW_ID]))


def _check(table_name: str, frames: list[_Frame], details: dict | None = None) -> CheckOutcome:
    import great_expectations as gx

    messages, failing, samples, evaluated = [], 0, [], 0
    for frame in frames:
        spark = _is_spark(frame.rows)
        suite = gx.ExpectationSuite(name=f"{table_name}.{frame.name}")
        for i, (expectation, _) in enumerate(frame.expectations):
            expectation.meta = {"index": i}
            suite.add_expectation(expectation)
        if spark:
            with_ids, batch = _spark_frame(frame)
            result_format = {"result_format": "SUMMARY", "unexpected_index_column_names": [ROW_ID],
                             "partial_unexpected_count": SAMPLE_ROWS}
        else:
            batch = _pandas(frame)
            result_format = {"result_format": "COMPLETE", "include_unexpected_rows": False}
        result = _run(f"{table_name}.{frame.name}", batch, suite, frame.parameters, result_format)
        evaluated += len(result.results)
        bad_index: set[int] = set()
        frame_failing = 0
        for item in result.results:
            if item.success:
                continue
            message = frame.expectations[item.expectation_config.meta["index"]][1]
            res = item.result or {}
            if "unexpected_index_list" in res or "partial_unexpected_index_list" in res:
                n = int(res.get("unexpected_count") or 0)
                if spark:  # ids of up to SAMPLE_ROWS failing rows; the count comes from Spark
                    bad_index.update(int(i[ROW_ID]) for i in res.get("partial_unexpected_index_list") or [])
                    frame_failing = max(frame_failing, n)
                else:
                    bad_index.update(int(i) for i in res["unexpected_index_list"])
                messages.append(message.format(n=n))
            elif "observed_value" in res and item.expectation_config.type == "expect_table_row_count_to_equal":
                expected = frame.parameters.get("expected_rows")
                observed = int(res["observed_value"])
                failing += abs(observed - int(expected))
                messages.append(message.format(observed=observed, expected=expected, n=abs(observed - int(expected))))
            else:  # an exception inside GX (e.g. a missing column): say so rather than pass
                info = item.exception_info or {}
                found = [info.get("exception_message")] if isinstance(info, dict) else [str(info)]
                if isinstance(info, dict):  # GX 1.x: {metric id: {"exception_message": ...}}
                    found += [v.get("exception_message") for v in info.values() if isinstance(v, dict)]
                text = "; ".join(dict.fromkeys(t for t in found if t)) or "unknown error"
                messages.append(f"{item.expectation_config.type} could not run: {text}")
                failing += 1
        if spark:
            failing += frame_failing
            if bad_index:
                from pyspark.sql import functions as F

                ids = sorted(bad_index)[:SAMPLE_ROWS]
                sample = with_ids.where(F.col(ROW_ID).isin(ids)).drop(ROW_ID, *frame.extra).limit(SAMPLE_ROWS)
                samples.append(sample.toArrow())
        else:
            failing += len(bad_index)
            if bad_index:
                samples.append(frame.rows.take(sorted(bad_index)[:SAMPLE_ROWS]))
    info = {"expectations": evaluated, "failed_expectations": len(messages), **(details or {})}
    if not messages:
        return CheckOutcome(True, engine=ENGINE, details=info)
    # the rows of the first frame with failing rows (frames are listed table rows first where both exist)
    sample = samples[0] if samples else None
    return CheckOutcome(False, f"{table_name}: " + "; ".join(messages), failing, sample, info, ENGINE)


def _arrow(data):
    if data is None or _is_spark(data):
        return data
    if hasattr(data, "to_pandas") or hasattr(data, "num_rows"):
        return data
    import pyarrow as pa

    return pa.Table.from_pandas(data, preserve_index=False)  # a pandas frame


def _spark(data, spark):
    """``data`` as a Spark DataFrame of ``spark`` (an Arrow input of a Spark validation: small, e.g. samples)."""
    if data is None or _is_spark(data):
        return data
    return spark.createDataFrame(_arrow(data))


def _required(table_name: str, inputs: dict, *names: str) -> list:
    missing = [n for n in names if n not in inputs]
    if missing:
        raise TypeError(f"gx_suites.validate({table_name!r}) needs the inputs {', '.join(missing)}")
    return [inputs[n] for n in names]


def _row_count(frame: _Frame, expected: int, what: str) -> _Frame:
    frame.parameters["expected_rows"] = int(expected)
    return frame.expect(_e().ExpectTableRowCountToEqual(value={"$PARAMETER": "expected_rows"}),
                        "{observed} rows, " + what + " {expected}")


def _reconciled(sites, calls, n_samples: dict):
    """quality.reconcile.sites_vs_calls, remembered for the last (sites, calls, n_samples): a file's sites and calls
    suites run one after the other on the same tables, so the second reuses the frame (~50 ms)."""
    from quality.duck import parquet_files
    from quality.reconcile import sites_vs_calls, sites_vs_calls_spark, sites_vs_calls_to_parquet

    with _LOCK:
        last = _STATE.get("reconciled")
        if last and last[0] is sites and last[1] is calls and last[2] == n_samples:
            return last[3]
        spark = _is_spark(sites)
        release()
        files = (parquet_files(sites), parquet_files(calls)) if spark else (None, None)
        if all(files):  # a run's data files: DuckDB reduces the calls to one row per site, GX reads that on Spark
            import tempfile

            folder = tempfile.TemporaryDirectory(prefix="genolake-reconcile-")
            target = f"{folder.name}/reconciled.parquet"
            sites_vs_calls_to_parquet(files[0], files[1], n_samples, target)
            rec = sites.sparkSession.read.parquet(target)
            _STATE["reconciled_folder"] = folder
        elif spark:  # one pass over the calls, cached for the sites and calls suites (one row per site: small)
            from pyspark import StorageLevel

            rec = sites_vs_calls_spark(sites, calls, n_samples).persist(StorageLevel.MEMORY_AND_DISK)
        else:
            rec = sites_vs_calls(sites, calls, n_samples)
        _STATE["reconciled"] = (sites, calls, dict(n_samples), rec)  # holds the tables, so identity stays valid
        return rec


def _files(*tables) -> set[str]:
    """The source files of Arrow tables or Spark DataFrames (a few values: one per landed file)."""
    found: set[str] = set()
    for table in tables:
        if _is_spark(table):
            found |= {r[0] for r in table.select("source_file").distinct().collect()}
        else:
            found |= set(table["source_file"].unique().to_pylist())
    return found


def release() -> None:
    """Forget the remembered reconciliation (a cached Spark frame is unpersisted)."""
    with _LOCK:
        last = _STATE.pop("reconciled", None)
        if last is not None and _is_spark(last[3]):
            last[3].unpersist()
        folder = _STATE.pop("reconciled_folder", None)
        if folder is not None:
            folder.cleanup()


def _sites(data, calls, n_samples) -> CheckOutcome:
    import pyarrow.compute as pc

    if not isinstance(n_samples, dict):
        n_samples = {f: int(n_samples) for f in _files(data, calls)}
    rec = _reconciled(data, calls, n_samples)
    spark = _is_spark(rec)
    rec = rec.where("in_sites") if spark else rec.filter(pc.field("in_sites"))
    e = _e()
    frame = _Frame("af_from_calls", rec, ["ac", "ac_from_calls", "an", "an_from_calls", "af_diff"])
    frame.expect(e.ExpectColumnPairValuesToBeEqual(column_A="ac", column_B="ac_from_calls"),
                 "ac: {n} sites where AC differs from AC recomputed from calls")
    frame.expect(e.ExpectColumnPairValuesToBeEqual(column_A="an", column_B="an_from_calls"),
                 "an: {n} sites where AN differs from AN recomputed from calls")
    frame.expect(e.ExpectColumnValuesToBeBetween(column="af_diff", min_value=0, max_value=AF_TOLERANCE),
                 "af: {n} sites where |af - AF recomputed from calls| > " + f"{AF_TOLERANCE:g}")
    return _check("sites", [frame], {"site_keys": _rows(rec)})


def _calls(data, sites, samples) -> CheckOutcome:
    import pyarrow as pa
    import pyarrow.compute as pc

    spark = _is_spark(data)
    sep = "\x1f"
    if spark:  # one row per file and one per sample come back: the samples table is small
        from pyspark.sql import functions as F

        counts = samples.groupBy("source_file").count().collect()
        n_samples = {r["source_file"]: int(r["count"]) for r in counts}
        known = [r[0] for r in samples.select(F.concat_ws(sep, "source_file", "sample_id")).distinct().collect()]
        key = F.concat_ws(sep, F.col("source_file").cast("string"), F.col("sample_id").cast("string"))
    else:
        per_file = samples.group_by("source_file").aggregate([("sample_id", "count")])
        n_samples = dict(zip(per_file["source_file"].to_pylist(), per_file["sample_id_count"].to_pylist()))
        key = pc.binary_join_element_wise(data["source_file"].cast(pa.string()), data["sample_id"].cast(pa.string()),
                                          sep).to_pandas()
        known = pc.binary_join_element_wise(samples["source_file"].cast(pa.string()),
                                            samples["sample_id"].cast(pa.string()), sep).unique().to_pylist()
    rec = _reconciled(sites, data, n_samples)
    e = _e()
    per_site = _Frame("rows_per_site", rec, ["non_ref_rows", "non_ref_expected", "ref_rows", "n_hom_ref"])
    per_site.expect(e.ExpectColumnPairValuesToBeEqual(column_A="non_ref_rows", column_B="non_ref_expected"),
                    "rows: {n} sites whose non-reference call rows differ from n_het + n_hom_alt + n_missing")
    per_site.expect(e.ExpectColumnPairValuesAToBeGreaterThanB(column_A="n_hom_ref", column_B="ref_rows", or_equal=True),
                    "rows: {n} sites with more reference call rows than n_hom_ref")

    # sample_id must be one of its file's samples: a key column file + sample_id, checked against the samples'
    table = _Frame("calls", data, ["phased"], extra={"file_sample_id": key}, parameters={"known_samples": known})
    table.expect(e.ExpectColumnValuesToBeInSet(column="file_sample_id", value_set={"$PARAMETER": "known_samples"}),
                 "sample_id: {n} rows whose sample is not in the file's samples")
    table.expect(e.ExpectColumnValuesToNotBeNull(column="phased", mostly=1.0),
                 "phased: {n} rows with null phased (non-null ratio must be 1.0)")
    if spark:
        sums = rec.selectExpr("sum(non_ref_rows) AS a", "sum(non_ref_expected) AS b").collect()[0]
        non_ref, expected = int(sums["a"] or 0), int(sums["b"] or 0)
    else:
        non_ref = pc.sum(rec["non_ref_rows"]).as_py() or 0
        expected = pc.sum(rec["non_ref_expected"]).as_py() or 0
    return _check("calls", [table, per_site], {"rows": _rows(data), "non_reference_rows": non_ref,
                                                "non_reference_rows_expected": expected})


def _samples(data, n_samples) -> CheckOutcome:
    e = _e()
    frame = _Frame("samples", data, ["source_file", "sample_index"], parameters={"max_index": max(int(n_samples) - 1, 0)})
    _row_count(frame, n_samples, "the VCF header has")
    frame.expect(e.ExpectCompoundColumnsToBeUnique(column_list=["source_file", "sample_index"]),
                 "sample_index: {n} rows whose sample_index is repeated in the file")
    frame.expect(e.ExpectColumnValuesToBeBetween(column="sample_index", min_value=0,
                                                 max_value={"$PARAMETER": "max_index"}),
                 "sample_index: {n} rows outside [0, n_samples - 1]")
    return _check("samples", [frame], {"rows": _rows(data), "n_samples": int(n_samples)})


def _clinvar(data) -> CheckOutcome:
    messages = {
        0: "allele_id: {n} null rows", 1: "clinical_significance: {n} null rows",
        2: "assembly: {n} rows not in " + "/".join(CLINVAR_ASSEMBLIES), 3: "position_vcf: {n} rows below 1",
        4: "reference_allele_vcf: {n} rows not A/C/G/T/N bases", 5: "alternate_allele_vcf: {n} rows not A/C/G/T/N bases",
        6: "rsid: {n} rows not like rs<digits>", 7: "(allele_id, assembly, chromosome): {n} rows not unique",
    }
    _context()
    suite = clinvar_suite()
    columns = sorted({c for exp in suite.expectations
                      for c in ([exp.column] if hasattr(exp, "column") else list(getattr(exp, "column_list", [])))})
    frame = _Frame("clinvar", data, columns)
    for i, expectation in enumerate(suite.expectations):
        frame.expect(expectation, messages.get(i, type(expectation).__name__ + ": {n} rows"))
    return _check("clinvar", [frame], {"rows": _rows(data)})


def _annotated(data, sites_rows, previous_fraction, max_drop) -> CheckOutcome:
    import pyarrow as pa

    keys = ["source_file", "chromosome", "start", "ref", "alt"]
    joined = (int(data.select(*keys).distinct().count()) if _is_spark(data)
              else data.select(keys).group_by(keys).aggregate([]).num_rows)
    fraction = joined / sites_rows if sites_rows else (None if joined == 0 else float("inf"))
    min_fraction = 0.0 if previous_fraction is None else float(previous_fraction) * (1 - float(max_drop))
    derived = pa.table({"sites_rows": pa.array([int(sites_rows)], pa.int64()),
                        "joined_sites": pa.array([joined], pa.int64()),
                        "joined_fraction": pa.array([fraction], pa.float64()),
                        "previous_fraction": pa.array([previous_fraction], pa.float64()),
                        "max_drop": pa.array([float(max_drop)], pa.float64()),
                        "min_fraction": pa.array([min_fraction], pa.float64())})
    e = _e()
    join = _Frame("joined_fraction", derived, ["joined_fraction"], parameters={"min_fraction": min_fraction})
    join.expect(e.ExpectColumnValuesToBeBetween(column="joined_fraction", min_value={"$PARAMETER": "min_fraction"},
                                                max_value=1.0),
                f"joined_fraction: {joined}/{sites_rows} sites joined to ClinVar"
                + (f" ({fraction:.4f})" if fraction is not None else "")
                + (f", below {min_fraction:.4f} (previous release {previous_fraction:.4f} minus {max_drop:.0%})"
                   if previous_fraction is not None else ", above 1"))
    table = _Frame("annotated_variants", data, ["allele_id", "clinical_significance"])
    table.expect(e.ExpectColumnValuesToNotBeNull(column="allele_id"), "allele_id: {n} null rows")
    table.expect(e.ExpectColumnValuesToNotBeNull(column="clinical_significance", mostly=MIN_CLINICAL_SIGNIFICANCE_RATIO),
                 "clinical_significance: {n} null rows (non-null ratio below "
                 + f"{MIN_CLINICAL_SIGNIFICANCE_RATIO:g})")
    return _check("annotated_variants", [table, join],
                  {"rows": _rows(data), "joined_sites": joined, "sites_rows": int(sites_rows),
                   "joined_fraction": fraction if fraction is None or fraction != float("inf") else -1.0,
                   "min_fraction": min_fraction})


def _variant_qc(data, sites_rows) -> CheckOutcome:
    e = _e()
    frame = _Frame("variant_qc", data, ["call_rate", "af", "hwe_p", "het_expected"])
    _row_count(frame, sites_rows, "sites has")
    frame.expect(e.ExpectColumnValuesToBeBetween(column="call_rate", min_value=0, max_value=1),
                 "call_rate: {n} rows outside [0, 1]")
    frame.expect(e.ExpectColumnValuesToBeBetween(column="af", min_value=0, max_value=1),
                 "af: {n} rows outside [0, 1]")
    # HWE applies where the site is diploid with a called sample, which is where the QC gives het_expected (2pq):
    # haploid (chrY, male chrX), polyploid and mixed-ploidy sites have neither, on any chromosome
    if _is_spark(data):
        condition = {"condition_parser": "spark", "row_condition": "het_expected IS NOT NULL"}
    else:  # NaN is not equal to itself: the rows with het_expected
        condition = {"condition_parser": "pandas", "row_condition": "het_expected == het_expected"}
    frame.expect(e.ExpectColumnValuesToNotBeNull(column="hwe_p", mostly=1.0, **condition),
                 "hwe_p: {n} null rows where HWE applies (diploid sites with a called sample: het_expected set)")
    return _check("variant_qc", [frame], {"rows": _rows(data), "sites_rows": int(sites_rows)})


def _sample_qc(data, samples_rows) -> CheckOutcome:
    e = _e()
    frame = _Frame("sample_qc", data, ["call_rate"])
    _row_count(frame, samples_rows, "samples has")
    frame.expect(e.ExpectColumnValuesToBeBetween(column="call_rate", min_value=0, max_value=1),
                 "call_rate: {n} rows outside [0, 1]")
    return _check("sample_qc", [frame], {"rows": _rows(data), "samples_rows": int(samples_rows)})


def _report(data, cohort_size) -> CheckOutcome:
    # An empty cohort is not wrong data (the report is then empty): genolake_assets warns about it in a check of
    # its own; the suite checks what the rows say.
    e = _e()
    table = _Frame("drug_response_report", data, ["frequency"])
    table.expect(e.ExpectColumnValuesToBeBetween(column="frequency", min_value=0, max_value=1, strict_min=True),
                 "frequency: {n} rows outside (0, 1]")
    return _check("drug_response_report", [table], {"rows": _rows(data), "cohort_size": int(cohort_size or 0)})


def validate(table_name: str, data, **inputs) -> CheckOutcome:
    """The GX suite of ``table_name`` on ``data`` (pyarrow Table); see the module docstring for the inputs."""
    data = _arrow(data)
    session = next((t.sparkSession for t in (data, *inputs.values()) if _is_spark(t)), None)
    if session is not None:  # a Spark validation: its small Arrow inputs go to Spark too
        data = _spark(data, session)
    convert = (lambda t: _spark(t, session)) if session is not None else _arrow
    if table_name == "sites":
        calls, n_samples = _required(table_name, inputs, "calls", "n_samples")
        return _sites(data, convert(calls), n_samples)
    if table_name == "calls":
        sites, samples = _required(table_name, inputs, "sites", "samples")
        return _calls(data, convert(sites), convert(samples))
    if table_name == "samples":
        (n_samples,) = _required(table_name, inputs, "n_samples")
        return _samples(data, n_samples)
    if table_name == "clinvar":
        return _clinvar(data)
    if table_name == "annotated_variants":
        (sites_rows,) = _required(table_name, inputs, "sites_rows")
        max_drop = inputs.get("max_drop")
        return _annotated(data, sites_rows, inputs.get("previous_fraction"),
                          DEFAULT_MAX_DROP if max_drop is None else max_drop)
    if table_name == "variant_qc":
        (sites_rows,) = _required(table_name, inputs, "sites_rows")
        return _variant_qc(data, sites_rows)
    if table_name == "sample_qc":
        (samples_rows,) = _required(table_name, inputs, "samples_rows")
        return _sample_qc(data, samples_rows)
    if table_name == "drug_response_report":
        (cohort_size,) = _required(table_name, inputs, "cohort_size")
        return _report(data, cohort_size)
    raise KeyError(f"no GX suite for table {table_name!r}")
