"""The genolake side of the benchmark, run as its own process so its whole tree (Python, JVM, Spark workers) can
be measured. Same code path as the processed assets: ingest_vcf (htslib in Spark tasks, Parquet per region) into
staging, then the journalled commit. Prints one JSON object.

    python -m benchmarks.ingest FIRST.vcf.gz SECOND.vcf.gz HOME
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.parquet")) if root.exists() else 0


def _snapshot(root: Path) -> dict:
    return {str(p): (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*.parquet")}


def main() -> None:
    first, second, home = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    os.environ["GENOLAKE_HOME"] = str(home)
    from genolake_assets.transforms.report import drug_response_sql
    from genolake_assets.transforms.tables import ANNOTATED_VARIANTS, CALLS, SAMPLES, SITES
    from genolake_assets.transforms.vcf import ingest_vcf
    from resources.catalog import LocalCatalog
    from resources.query import DuckDBQueryEngine
    from resources.spark import SparkResource
    from resources.storage import LocalStorage

    result: dict = {}
    storage = LocalStorage(home=str(home))
    started = time.perf_counter()
    spark = SparkResource().spark_session
    result["spark_session_seconds"] = time.perf_counter() - started
    warm = Path(__file__).resolve().parents[1] / "data" / "sample" / "1kgp3_chr22_COMT_CYP2D6_GRCh37.100samples.vcf.gz"
    started = time.perf_counter()
    with storage.staging() as staging:
        ingest_vcf(spark, str(warm), staging, "warmup")
    result["first_job_seconds"] = time.perf_counter() - started

    def ingest(path: Path, key: str) -> tuple[float, object]:
        begun = time.perf_counter()
        with storage.staging() as staging:
            stats = ingest_vcf(spark, str(path), staging, key, source_path=path.name)
            storage.commit(staging, [f"{t}/source_file={key}" for t in ("sites", "calls", "samples")])
        return time.perf_counter() - begun, stats

    warehouse = home / "warehouse"
    seconds, stats = ingest(first, "first")
    result.update({"ingest_seconds": seconds, "regions": stats.regions, "calls_rows": stats.rows("calls"),
                   "sites_rows": stats.rows("sites"), "output_bytes": _tree_bytes(warehouse)})

    before = _snapshot(warehouse)
    bytes_before = _tree_bytes(warehouse)
    seconds, _ = ingest(second, "second")
    after = _snapshot(warehouse)
    result["second_file_seconds"] = seconds
    result["second_file_bytes_written"] = _tree_bytes(warehouse) - bytes_before
    result["first_file_untouched"] = all(after.get(k) == v for k, v in before.items())

    # The report and a by-sample lookup through the local SQL engine. ClinVar's drug-response rows do not exist
    # for synthetic sites, so 50 sites of the first file stand in as annotated variants.
    sites = pq.read_table(warehouse / "sites" / "source_file=first").to_pandas()
    picked = sites.sample(50, random_state=1)
    annotated = pa.table({
        "source_file": ["first"] * 50, "start": picked["start"], "end": picked["end"], "ref": picked["ref"],
        "alt": picked["alt"], "alt_index": picked["alt_index"].astype("int16"), "vcf_rsid": picked["rsid"],
        "ac": picked["ac"], "an": picked["an"], "af": picked["af"],
        "hom_ref_ploidy": picked["hom_ref_ploidy"], "hom_ref_phased": picked["hom_ref_phased"],
        "assembly": ["GRCh37"] * 50, "clinvar_release": ["synthetic"] * 50,
        "allele_id": np.arange(50, dtype=np.int64), "variation_id": np.arange(50, dtype=np.int64),
        "rsid": picked["rsid"], "gene_symbol": ["SYN"] * 50, "type": ["single nucleotide variant"] * 50,
        "name": picked["rsid"], "clinical_significance": ["drug response"] * 50, "review_status": ["synthetic"] * 50,
        "phenotype_list": ["synthetic response"] * 50,
    })
    target = warehouse / "annotated_variants" / "chromosome=22" / "part-0.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(annotated, target)
    catalog = LocalCatalog(home=str(home))
    for table in (SITES, CALLS, SAMPLES, ANNOTATED_VARIANTS):
        catalog.register_table(table, str(warehouse / table.name))
    engine = DuckDBQueryEngine(home=str(home))
    engine.query(drug_response_sql(), ["SYN0%", 50])  # open the file once before timing
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
