"""The genolake side of the benchmark, run as its own process so its whole tree (Python, JVM, Spark workers) can
be measured. Same code path as the processed assets: ingest_vcf (htslib in Spark tasks, Parquet per region) into
the tables' data folders, then one Iceberg commit of sites, calls and samples recorded as one snapshot set (with
the DuckDB views refreshed, as ``local_lakehouse`` does for the product). Prints one JSON object.

    python -m benchmarks.ingest FIRST.vcf.gz SECOND.vcf.gz HOME
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

VCF_TABLES = ("sites", "calls", "samples")


def main() -> None:
    first, second, home = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    os.environ["GENOLAKE_HOME"] = str(home)
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    from genolake_assets.transforms.report import drug_response_sql
    from genolake_assets.transforms.tables import ANNOTATED_VARIANTS
    from genolake_assets.transforms.vcf import ingest_vcf
    from resources.catalog import local_lakehouse
    from resources.lakehouse import Change, local_path
    from resources.query import DuckDBQueryEngine
    from resources.spark import SparkResource

    result: dict = {}
    started = time.perf_counter()
    spark = SparkResource().spark_session
    result["spark_session_seconds"] = time.perf_counter() - started
    # Warm-up job (JVM, Python workers, htslib) into a throwaway folder outside the warehouse: never committed.
    warm = Path(__file__).resolve().parents[1] / "data" / "sample" / "1kgp3_chr22_COMT_CYP2D6_GRCh37.100samples.vcf.gz"
    throwaway = home / "warmup"
    started = time.perf_counter()
    ingest_vcf(spark, str(warm), str(throwaway), "warmup")
    result["first_job_seconds"] = time.perf_counter() - started
    shutil.rmtree(throwaway, ignore_errors=True)

    # Creating the Iceberg tables of a new home is a one-time set-up, not part of an ingest.
    lakehouse = local_lakehouse(str(home))
    started = time.perf_counter()
    lakehouse.ensure_tables()
    result["ensure_tables_seconds"] = time.perf_counter() - started

    def ingest(path: Path, key: str):
        """As the processed asset does it (minus the blocking checks, as before): parse + write, then commit.
        Returns (parse+write+commit seconds, commit seconds, stats, commit set)."""
        begun = time.perf_counter()
        stats = ingest_vcf(spark, str(path), lakehouse.root, key, source_path=path.name)
        paths = {t: [f["path"] for f in stats.files if f["table"] == t] for t in VCF_TABLES}
        written = time.perf_counter()
        commit_set = lakehouse.commit([Change(t, paths[t], {"source_file": key}) for t in VCF_TABLES],
                                      operation="ingest", source_file=key)
        done = time.perf_counter()
        return done - begun, done - written, stats, commit_set

    def files_of(commit_set, key: str) -> dict:
        """Data files of one source file in each VCF table at a set: {table: [DataFile]}."""
        return {t: [f for f in lakehouse.files(t, commit_set.snapshot(t)) if f.partition.get("source_file") == key]
                for t in VCF_TABLES}

    def stat(path: str) -> tuple[int, int]:
        found = os.stat(local_path(path))
        return found.st_ino, found.st_mtime_ns

    seconds, commit_seconds, stats, first_set = ingest(first, "first")
    first_files = files_of(first_set, "first")
    result.update({"ingest_seconds": seconds, "commit_seconds": commit_seconds,
                   "parse_write_seconds": seconds - commit_seconds, "regions": stats.regions,
                   "calls_rows": stats.rows("calls"), "sites_rows": stats.rows("sites"),
                   "output_bytes": sum(f.bytes for group in first_files.values() for f in group),
                   "output_files": sum(len(group) for group in first_files.values())})

    before = {f.path: stat(f.path) for group in first_files.values() for f in group}
    seconds, commit_seconds, _, second_set = ingest(second, "second")
    after = {path: stat(path) for path in before}
    result["second_file_seconds"] = seconds
    result["second_file_commit_seconds"] = commit_seconds
    result["second_file_bytes_written"] = sum(f.bytes for group in files_of(second_set, "second").values()
                                              for f in group)
    # The first file's data files are the same files (same inode and mtime), still the ones the new set reads,
    # and its rows are all there as readers see them (the views the second commit refreshed).
    still = files_of(second_set, "first")
    same_files = after == before and all({f.path for f in still[t]} == {f.path for f in first_files[t]}
                                         for t in VCF_TABLES)
    engine = DuckDBQueryEngine(home=str(home))
    counts = {t: engine.query(f"SELECT count(*) AS n FROM genolake.{t} WHERE source_file = 'first'").column("n")[0]
              .as_py() for t in VCF_TABLES}
    expected = {t: stats.rows(t) for t in VCF_TABLES}
    result["first_file_untouched"] = bool(same_files and counts == expected)
    if not result["first_file_untouched"]:
        result["first_file_check"] = {"same_files": same_files, "rows": counts, "expected_rows": expected}

    # The report and a by-sample lookup through the local SQL engine. ClinVar's drug-response rows do not exist
    # for synthetic sites, so 50 sites of the first file stand in as annotated variants, committed to the
    # annotated_variants table like the annotated asset does (one file per chromosome, partition column inside).
    site_paths = sorted(local_path(f.path) for f in first_files["sites"])
    sites = pa.concat_tables([pq.ParquetFile(p).read() for p in site_paths])
    picked = sites.take(np.sort(np.random.RandomState(1).choice(sites.num_rows, 50, replace=False)))
    n = picked.num_rows

    def column(name: str) -> pa.Array:
        found = picked.column(name).combine_chunks()
        return found.dictionary_decode() if pa.types.is_dictionary(found.type) else found

    constants = {"assembly": "GRCh37", "clinvar_release": "synthetic", "gene_symbol": "SYN",
                 "type": "single nucleotide variant", "clinical_significance": "drug response",
                 "review_status": "synthetic", "phenotype_list": "synthetic response"}
    from_sites = {"vcf_rsid": "rsid", "name": "rsid"}
    schema = schema_to_pyarrow(lakehouse.table(ANNOTATED_VARIANTS.name).schema(), include_field_ids=False)
    arrays = []
    for field in schema:
        if field.name in constants:
            arrays.append(pa.array([constants[field.name]] * n, field.type))
        elif field.name in ("allele_id", "variation_id"):
            arrays.append(pa.array(np.arange(n, dtype=np.int64), field.type))
        else:
            arrays.append(column(from_sites.get(field.name, field.name)).cast(field.type))
    annotated = pa.Table.from_arrays(arrays, schema=schema)
    assert annotated.column_names == ANNOTATED_VARIANTS.column_names
    target = Path(lakehouse.data_location(ANNOTATED_VARIANTS.name)) / "benchmark"
    annotated_paths = []
    for chromosome in sorted(set(annotated.column("chromosome").to_pylist())):
        path = target / f"chromosome={chromosome}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(annotated.filter(pc.equal(annotated.column("chromosome"), chromosome)), path)
        annotated_paths.append(str(path))
    lakehouse.commit([Change(ANNOTATED_VARIANTS.name, annotated_paths, {})], operation="annotate")

    engine.query(drug_response_sql(), ["SYN0%", 50])  # open the files once before timing
    begun = time.perf_counter()
    report = engine.query(drug_response_sql(), ["SYN0%", 50])
    result["report_seconds"] = time.perf_counter() - begun
    result["report_rows"] = report.num_rows
    begun = time.perf_counter()
    lookup = engine.query(
        "SELECT start + 1 AS pos, ref, alt, allele1, allele2, phased FROM genolake.calls "
        "WHERE source_file = 'first' AND chromosome = '22' AND sample_id = 'SYN01234'")
    result["lookup_seconds"] = time.perf_counter() - begun
    result["lookup_rows"] = lookup.num_rows
    print(json.dumps(result))


if __name__ == "__main__":
    main()
