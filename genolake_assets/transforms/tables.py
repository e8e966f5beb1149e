"""The table contracts: every catalogued table's columns, types (Glue/Hive spelling) and comments.

One source of truth for the local catalog (DuckDB views), the Glue catalog, the quality schemas and the
docs. No dagster import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DATABASE = "genolake"

# Column classifications (Column.classification). "identifier": identifies a person (sample_id) or a file
# (source_path, source_file: file names often carry sample IDs). Governance policies exclude columns by classification, so a column classified later stays hidden.
CLASSIFICATIONS = ("identifier",)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Glue/Hive type: string, bigint, int, smallint, tinyint, double, float, boolean, date, timestamp,
    # array<string>, array<int>, map<string,string>
    comment: str
    nullable: bool = True
    classification: str | None = None  # one of CLASSIFICATIONS; governance policies can hide columns by it


@dataclass(frozen=True)
class Table:
    name: str
    layer: str
    description: str
    columns: tuple[Column, ...]
    partition_columns: tuple[Column, ...] = field(default_factory=tuple)
    sort_columns: tuple[str, ...] = ()  # the Iceberg sort order: what lookups go by

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return self.columns + self.partition_columns

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.all_columns]

    @property
    def qualified_name(self) -> str:
        return f"{DATABASE}.{self.name}"


C = Column


def data_dir(root: str, table: str) -> str:
    """Where a table's data files go under a warehouse root (the Iceberg table's location + /data)."""
    return f"{root.rstrip('/')}/{table}/data"


SOURCE_FILE = C("source_file", "string", "Partition: the landed file's key (file stem + hash of its full path)", False,
                classification="identifier")  # file names often carry sample or patient IDs
CHROMOSOME = C("chromosome", "string", "Partition: chromosome in ClinVar spelling (22, X, MT; no chr prefix)", False)

SITES = Table(
    "sites",
    "processed",
    "One row per variant allele of each landed VCF (multi-allelic records split), with genotype counts "
    "and AC/AN/AF computed from the genotypes.",
    (
        C("start", "bigint", "0-based start (VCF POS - 1; -1 for a telomere record at POS 0)", False),
        C("end", "bigint", "0-based exclusive end (start + length of REF, or INFO/END for symbolic alleles)", False),
        C("ref", "string", "Reference allele as in the VCF", False),
        C("alt", "string", "This row's alternate allele", False),
        C("alt_index", "smallint", "Index of this ALT in the VCF record (1 = first ALT)", False),
        C("n_alleles", "smallint", "Number of alleles in the VCF record (REF + ALTs)", False),
        C("rsid", "string", "VCF ID column (rsID when present), null for '.'"),
        C("qual", "float", "VCF QUAL, null for '.'"),
        C("filters", "array<string>", "VCF FILTER values (['PASS'] when passed), null for '.'"),
        C("n_hom_ref", "int", "Samples with no copy of this ALT and no missing allele", False),
        C("n_het", "int", "Samples with at least one but not all alleles equal to this ALT", False),
        C("n_hom_alt", "int", "Samples whose alleles are all this ALT", False),
        C("n_missing", "int", "Samples with at least one missing allele ('.')", False),
        C("ac", "int", "Allele count of this ALT over called alleles", False),
        C("an", "int", "Number of called (non-missing) alleles", False),
        C("af", "double", "ac / an, null when an = 0"),
        C("hom_ref_ploidy", "tinyint", "Ploidy of the samples implied homozygous reference (no row in calls); "
          "null for a record without GT, whose samples are all unknown ('.')"),
        C("hom_ref_phased", "boolean", "Phasing of the samples implied homozygous reference (0|0 when true)"),
        C("info", "map<string,string>", "INFO key -> value as text (flags 'true'); Number=A/R values cut to this ALT"),
    ),
    (SOURCE_FILE, CHROMOSOME),
    ("chromosome", "start"),
)

CALLS = Table(
    "calls",
    "processed",
    "Sparse genotypes: one row per sample x variant allele where the sample carries the allele or has a "
    "missing allele. A sample of the file with no row at a site is homozygous reference (spelled as the "
    "site's hom_ref_ploidy/hom_ref_phased).",
    (
        C("start", "bigint", "0-based start of the site", False),
        C("ref", "string", "Reference allele of the site", False),
        C("alt", "string", "Alternate allele of the site (row of sites)", False),
        C("alt_index", "smallint", "Index of the site's ALT in the VCF record", False),
        C("sample_id", "string", "Sample ID as in the VCF header", False, classification="identifier"),
        C("allele1", "smallint", "First allele index as written in the VCF (0 = REF, n = nth ALT, -1 = '.')", False),
        C("allele2", "smallint", "Second allele index as written (-1 = '.'), null for haploid calls"),
        C("phased", "boolean", "True when the genotype is phased ('|')", False),
        C("extra_alleles", "array<smallint>", "Third and further allele indices of polyploid calls, null otherwise"),
        C("dp", "int", "FORMAT/DP read depth, null when absent or '.'"),
        C("gq", "int", "FORMAT/GQ genotype quality, null when absent or '.'"),
        C("ad", "array<int>", "FORMAT/AD for this site: [REF depth, this ALT's depth], null when absent"),
    ),
    (SOURCE_FILE, CHROMOSOME),
    ("chromosome", "start"),
)

SAMPLES = Table(
    "samples",
    "processed",
    "Samples of each landed VCF (sample id x source file).",
    (
        C("sample_id", "string", "Sample ID as in the VCF header", False, classification="identifier"),
        C("sample_index", "int", "0-based column of the sample in the VCF", False),
        C("source_path", "string", "The landed file's path or key", False, classification="identifier"),
    ),
    (SOURCE_FILE,),
)

CLINVAR = Table(
    "clinvar",
    "processed",
    "ClinVar variant_summary releases, typed; both assemblies; VCF-style position and alleles kept.",
    (
        C("allele_id", "bigint", "ClinVar AlleleID", False),
        C("type", "string", "Variant type (single nucleotide variant, Deletion, ...)"),
        C("name", "string", "HGVS-style name"),
        C("gene_id", "bigint", "NCBI GeneID, null when -1"),
        C("gene_symbol", "string", "Gene symbol(s)"),
        C("hgnc_id", "string", "HGNC ID, null for '-'"),
        C("clinical_significance", "string", "Aggregate clinical significance (e.g. 'drug response')"),
        C("clin_sig_simple", "int", "1 = at least one pathogenic/likely pathogenic, 0 = none, -1 = no data"),
        C("last_evaluated", "date", "Last evaluated date, null for '-'"),
        C("rs_dbsnp", "bigint", "dbSNP rs number, null when -1"),
        C("rsid", "string", "'rs' + rs_dbsnp, null when absent"),
        C("nsv_esv_dbvar", "string", "dbVar accession"),
        C("rcv_accession", "string", "RCV accessions, '|'-separated"),
        C("phenotype_ids", "string", "Phenotype IDs"),
        C("phenotype_list", "string", "Phenotypes, '|'-separated"),
        C("origin", "string", "Origin"),
        C("origin_simple", "string", "Origin (simplified)"),
        C("assembly", "string", "GRCh37, GRCh38, NCBI36, null for 'na'"),
        C("chromosome_accession", "string", "RefSeq accession of the chromosome"),
        C("start", "bigint", "ClinVar Start (1-based; lines up with VCF POS only for SNVs), null when -1"),
        C("stop", "bigint", "ClinVar Stop, null when -1"),
        C("reference_allele", "string", "ClinVar ReferenceAllele, null for 'na' (most rows in current releases)"),
        C("alternate_allele", "string", "ClinVar AlternateAllele, null for 'na'"),
        C("cytogenetic", "string", "Cytogenetic band"),
        C("review_status", "string", "Review status"),
        C("number_submitters", "int", "Number of submitters"),
        C("guidelines", "string", "Guidelines"),
        C("tested_in_gtr", "string", "Tested in GTR (Y/N)"),
        C("other_ids", "string", "Other IDs"),
        C("submitter_categories", "int", "Submitter categories"),
        C("variation_id", "bigint", "ClinVar VariationID"),
        C("position_vcf", "bigint", "VCF-style 1-based position, null when -1"),
        C("reference_allele_vcf", "string", "VCF-style reference allele, null for 'na'"),
        C("alternate_allele_vcf", "string", "VCF-style alternate allele, null for 'na'"),
        C("vcf_start", "bigint", "0-based start = position_vcf - 1 (the join key with sites.start)"),
    ),
    (C("release", "string", "Partition: the landed ClinVar file's key", False), CHROMOSOME),
    ("chromosome", "vcf_start"),
)

ANNOTATED_VARIANTS = Table(
    "annotated_variants",
    "annotated",
    "Sites joined to ClinVar on chromosome, 0-based start = PositionVCF - 1, ref = ReferenceAlleleVCF, "
    "alt = AlternateAlleleVCF and assembly.",
    (
        C("start", "bigint", "0-based start", False),
        C("end", "bigint", "0-based exclusive end", False),
        C("ref", "string", "Reference allele", False),
        C("alt", "string", "Alternate allele", False),
        C("alt_index", "smallint", "Index of the ALT in the VCF record", False),
        C("vcf_rsid", "string", "VCF ID column of the site"),
        C("ac", "int", "Allele count in the file", False),
        C("an", "int", "Called alleles in the file", False),
        C("af", "double", "Allele frequency in the file"),
        C("hom_ref_ploidy", "tinyint", "Ploidy implied for samples with no call row"),
        C("hom_ref_phased", "boolean", "Phasing implied for samples with no call row"),
        C("assembly", "string", "ClinVar assembly joined on", False),
        C("clinvar_release", "string", "ClinVar release (landed file key) joined", False),
        C("allele_id", "bigint", "ClinVar AlleleID", False),
        C("variation_id", "bigint", "ClinVar VariationID"),
        C("rsid", "string", "ClinVar rsID ('rs' + RS# (dbSNP))"),
        C("gene_symbol", "string", "Gene symbol(s)"),
        C("type", "string", "ClinVar variant type"),
        C("name", "string", "ClinVar name"),
        C("clinical_significance", "string", "Clinical significance"),
        C("review_status", "string", "Review status"),
        C("phenotype_list", "string", "Phenotypes, '|'-separated"),
    ),
    (SOURCE_FILE, CHROMOSOME),  # by file: a new file's annotation adds its own partitions, rewrites nothing
    ("chromosome", "start"),
)

DRUG_RESPONSE_REPORT = Table(
    "drug_response_report",
    "reports",
    "Pharmacogenomic drug-response report: for each ClinVar variant whose clinical significance contains "
    "'response', the frequency of each genotype among the cohort's samples (hom-ref included), top 50.",
    (
        C("rank", "int", "1 = highest frequency", False),
        C("rsid", "string", "ClinVar rsID"),
        C("genotype", "string", "Genotype as written in the VCF, e.g. 0|1", False),
        C("genotype0", "smallint", "First allele index (-1 = '.')", False),
        C("genotype1", "smallint", "Second allele index (-1 = '.'), null for haploid"),
        C("frequency", "double", "Samples with this genotype / cohort samples", False),
        C("sample_count", "bigint", "Samples with this genotype", False),
        C("cohort_size", "bigint", "Distinct samples matching the cohort pattern", False),
        C("gene_symbol", "string", "Gene symbol(s)"),
        C("chromosome", "string", "Chromosome", False),
        C("position", "bigint", "1-based VCF position", False),
        C("ref", "string", "Reference allele", False),
        C("alt", "string", "Alternate allele", False),
        C("clinical_significance", "string", "Clinical significance"),
        C("phenotype_list", "string", "Phenotypes, '|'-separated"),
        C("cohort", "string", "Sample-ID pattern of the cohort (SQL LIKE)", False),
        C("input_snapshots", "map<string,bigint>", "Iceberg snapshot id of every table the report read "
          "(genolake report --as-of <id> recomputes it from exactly that data)", False),
    ),
)

VARIANT_QC = Table(
    "variant_qc",
    "qc",
    "Variant QC: one row per site allele of each landed VCF (a row of sites), computed from the genotype counts "
    "of sites (hom-ref genotypes are never expanded): call rate, allele frequency, minor allele frequency, observed "
    "vs expected heterozygosity, Hardy-Weinberg exact test (Wigginton et al. 2005) and the flags of the thresholds.",
    (
        C("start", "bigint", "0-based start of the site", False),
        C("ref", "string", "Reference allele", False),
        C("alt", "string", "This row's alternate allele", False),
        C("alt_index", "smallint", "Index of the ALT in the VCF record", False),
        C("rsid", "string", "VCF ID column, null for '.'"),
        C("is_snv", "boolean", "REF and ALT are single bases (A, C, G, T)", False),
        C("n_samples", "int", "Samples in the file", False),
        C("n_called", "int", "Samples without a missing allele (n_hom_ref + n_het + n_hom_alt)", False),
        C("call_rate", "double", "n_called / n_samples, null for a file without samples"),
        C("n_hom_ref", "int", "Samples with no copy of this ALT", False),
        C("n_het", "int", "Samples heterozygous for this ALT", False),
        C("n_hom_alt", "int", "Samples homozygous for this ALT", False),
        C("af", "double", "Allele frequency of this ALT over called alleles (sites.af)"),
        C("maf", "double", "Minor allele frequency: min(af, 1 - af)"),
        C("het_observed", "double", "n_het / n_called"),
        C("het_expected", "double", "2 p q from the genotype counts (Hardy-Weinberg expectation)"),
        C("hwe_p", "double", "Hardy-Weinberg exact test p-value (mid-p when hwe_midp), null for haploid sites or "
          "no called samples"),
        C("hwe_midp", "boolean", "hwe_p is the mid-p variant (plink --hardy midp)", False),
        C("low_call_rate", "boolean", "call_rate below the run's min_call_rate", False),
        C("low_maf", "boolean", "maf below the run's min_maf", False),
        C("hwe_failed", "boolean", "hwe_p below the run's min_hwe_p", False),
        C("qc_pass", "boolean", "None of the flags is set", False),
    ),
    (SOURCE_FILE, CHROMOSOME),
    ("chromosome", "start"),
)

SAMPLE_QC = Table(
    "sample_qc",
    "qc",
    "Sample QC: one row per sample of each landed VCF, counted over the file's site alleles (rows of sites) from "
    "calls without expanding hom-ref genotypes: call rate, heterozygosity rate, non-reference count and Ti/Tv of "
    "its SNVs (bcftools stats -s - semantics).",
    (
        C("sample_id", "string", "Sample ID as in the VCF header", False, classification="identifier"),
        C("n_sites", "bigint", "Site alleles of the file (rows of sites)", False),
        C("n_called", "bigint", "Site alleles where the sample has no missing allele", False),
        C("call_rate", "double", "n_called / n_sites, null for a file without sites"),
        C("n_hom_ref", "bigint", "Homozygous reference (no row in calls)", False),
        C("n_het", "bigint", "Heterozygous for the site's ALT", False),
        C("n_hom_alt", "bigint", "Homozygous for the site's ALT", False),
        C("n_missing", "bigint", "With a missing allele", False),
        C("n_non_ref", "bigint", "n_het + n_hom_alt", False),
        C("het_rate", "double", "n_het / n_called"),
        C("n_transitions", "bigint", "Non-reference SNV genotypes whose ALT is a transition (A<->G, C<->T)", False),
        C("n_transversions", "bigint", "Non-reference SNV genotypes whose ALT is a transversion", False),
        C("n_indels", "bigint", "Non-reference genotypes at indels (plain REF and ALT of different lengths; symbolic alleles and MNPs are neither)", False),
        C("ti_tv", "double", "n_transitions / n_transversions, null when no transversion"),
        C("low_call_rate", "boolean", "call_rate below the run's min_sample_call_rate", False),
        C("qc_pass", "boolean", "No flag is set", False),
    ),
    (SOURCE_FILE,),
    ("source_file", "sample_id"),
)

# Not a data table: one row per recorded snapshot set (see resources/lakehouse.py). Its snapshots carry the
# snapshot id of every table, so readers read all tables at one consistent point.
COMMIT_LOG = Table(
    "commit_log",
    "catalog",
    "One row per commit of the lakehouse: what changed, who wrote it, and the snapshot id of every table at that "
    "point (a consistent snapshot set: readers never see a file's sites without its calls and samples).",
    (
        C("commit_id", "string", "Commit id, also in the summary of every table snapshot it wrote", False),
        C("committed_at", "timestamp", "When the set was recorded (UTC)", False),
        C("operation", "string", "ingest, annotate, report, repair", False),
        C("run_id", "string", "Dagster run id, null outside Dagster"),
        C("source_file", "string",
          "The landed file(s) whose rows were replaced (a batch: comma-separated keys), null otherwise"),
        C("changed", "array<string>", "Tables this commit changed"),
        C("snapshots", "map<string,bigint>", "Snapshot id of every table in this set", False),
        C("rows_added", "map<string,bigint>", "Rows added per changed table"),
        C("rows_removed", "map<string,bigint>", "Rows removed per changed table"),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (SITES, CALLS, SAMPLES, CLINVAR, ANNOTATED_VARIANTS, VARIANT_QC, SAMPLE_QC, DRUG_RESPONSE_REPORT)
}
