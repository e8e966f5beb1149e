"""Wires quality/ into Dagster asset checks.

Processed partitions are validated on the data files a run wrote, before they are committed: a partition that
fails a blocking check is not published (the table's snapshot stays as it was), and the run fails naming the
file and the failed checks. Checks that pass are reported with the materialization, computed in the same pass.
"""

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from quality import schemas

CHECKS = {
    "sites": [
        ("schema", "pandera: columns, types, nullability and value ranges of the sites contract"),
        ("genotype_counts", "n_hom_ref + n_het + n_hom_alt + n_missing equals the file's sample count at every site; ac <= an"),
    ],
    "calls": [
        ("schema", "pandera: columns, types, nullability and value ranges of the calls contract"),
        ("one_call_per_sample_and_site", "one row per (sample, site allele) of a file, or one per copy of a record "
         "the file repeats verbatim; never a call on a site that does not exist"),
    ],
    "samples": [("unique_sample_ids", "a sample ID appears once per file")],
    "clinvar": [("gx_suite", "Great Expectations: ids, assemblies, VCF-style alleles, rsIDs, unique AlleleID per assembly")],
}


def processed_check_specs(table: str) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(name, asset=AssetKey(["processed", table]), description=description, blocking=True)
        for name, description in CHECKS[table]
    ]


def _result(table: str, name: str, passed: bool, metadata: dict) -> AssetCheckResult:
    return AssetCheckResult(
        asset_key=AssetKey(["processed", table]),
        check_name=name,
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


def vcf_partition_checks(spark, files: dict[str, list[str]], n_samples: int) -> list[AssetCheckResult]:
    """Run the sites/calls/samples checks on one file's new data files (not yet committed)."""
    from pyspark.sql import functions as F

    def read(table: str):
        return spark.read.parquet(*files[table])

    results = []
    if files.get("sites"):
        sites = read("sites").cache()
        calls = read("calls")
        outcome = schemas.validate_spark(sites, "sites")
        results.append(_result("sites", "schema", outcome.passed, {"errors": outcome.summary()}))
        bad_counts = sites.where(
            (F.col("n_hom_ref") + F.col("n_het") + F.col("n_hom_alt") + F.col("n_missing") != F.lit(n_samples))
            | (F.col("ac") > F.col("an"))
        ).count()
        results.append(_result("sites", "genotype_counts", bad_counts == 0,
                               {"inconsistent_sites": bad_counts, "samples": n_samples}))
        outcome = schemas.validate_spark(calls, "calls")
        results.append(_result("calls", "schema", outcome.passed, {"errors": outcome.summary()}))
        excess = schemas.excess_calls(calls, sites)
        results.append(_result("calls", "one_call_per_sample_and_site", excess == 0, {"keys_with_excess_rows": excess}))
        sites.unpersist()
    else:  # a VCF with a header and no records: nothing to validate beyond its samples
        for table, name in (("sites", "schema"), ("sites", "genotype_counts"), ("calls", "schema"),
                            ("calls", "one_call_per_sample_and_site")):
            results.append(_result(table, name, True, {"note": "no records"}))
    dupes = schemas.duplicate_keys(read("samples"), ["sample_id"])
    results.append(_result("samples", "unique_sample_ids", dupes == 0, {"duplicated_sample_ids": dupes}))
    return results


def clinvar_check(frame) -> AssetCheckResult:
    from quality import gx_suites

    outcome = gx_suites.validate_pandas(frame)
    return _result("clinvar", "gx_suite", outcome["success"], {
        "expectations": outcome["evaluated"],
        "failed": MetadataValue.md("\n".join(f"- {f}" for f in outcome["failed"]) or "none"),
    })


def failed(results: list[AssetCheckResult]) -> list[str]:
    return [f"{r.asset_key.to_user_string()}:{r.check_name} {dict((k, getattr(v, 'value', v)) for k, v in r.metadata.items())}"
            for r in results if not r.passed]
