"""Variant and sample QC from the sparse tables (no dagster import: this also runs in Glue/EMR job scripts).

* ``variant_qc``: one row per row of ``sites`` (a site allele of a file): call rate, allele frequency, minor allele
  frequency, observed vs expected heterozygosity and the Hardy-Weinberg exact test (Wigginton, Cutler & Abecasis
  2005, computed as plink 1.9 ``--hardy`` does, optionally its mid-p variant), from the genotype counts in ``sites``.
* ``sample_qc``: one row per sample of a file, from its ``calls`` rows and the file's ``sites`` count; hom-ref
  genotypes are never expanded (n_hom_ref = n_sites - n_het - n_hom_alt - n_missing).
* ``discordant_genotypes``: samples typed in more than one file whose genotypes differ at the same site.

Semantics are per site allele (a row of ``sites``): a multi-allelic record split into k rows counts k times, and at
the row of ALT k a genotype is het / hom-alt by its copies of allele k (a 1/2 genotype is het at both rows, 2/2 is
hom-ref at the row of ALT 1). On biallelic files this is exactly ``bcftools stats -s -`` per record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tables import SAMPLE_QC, VARIANT_QC, Table


@dataclass
class QcThresholds:
    """QC thresholds; a site or sample below one is flagged (the flag is false when the metric is not measurable,
    e.g. no called sample, a file without samples, a haploid site for HWE).

    min_call_rate=0.95: sites whose called samples / samples is below it (plink --geno 0.05).
    min_maf=0.01: sites whose minor allele frequency is below it (plink --maf 0.01, "common variants").
    min_hwe_p=1e-6: sites whose Hardy-Weinberg exact p-value is below it (plink --hwe 1e-6, the usual control
        threshold; gross genotyping errors, not selection).
    hwe_midp=False: use the mid-p variant of the exact test (plink --hardy midp / --hwe midp; Graffelman & Moreno
        2013), less conservative.
    min_sample_call_rate=0.95: samples whose called site alleles / site alleles is below it (plink --mind 0.05).
    """

    min_call_rate: float = 0.95
    min_maf: float = 0.01
    min_hwe_p: float = 1e-6
    hwe_midp: bool = False
    min_sample_call_rate: float = 0.95


# ---------------------------------------------------------------------------------------------------------------
# Hardy-Weinberg exact test

# Relative tolerance under which two genotype configurations count as equally likely (plink 1.9 uses 2^-44 on its
# own recurrence; ours accumulates a little more rounding in log space, far below 4 printed significant digits).
_TIE = 1e-9


def hwe_exact(n_het: int, n_hom1: int, n_hom2: int, midp: bool = False) -> float:
    """SNP-HWE exact test p-value (Wigginton, Cutler & Abecasis 2005) as plink 1.9 ``--hardy`` computes it.

    The p-value is the probability, given the allele counts, of every heterozygote count at most as likely as the
    observed one. ``midp`` (plink ``--hardy midp``) subtracts half the probability of the configurations exactly as
    likely as the observed one. No genotypes: 1 (0.5 with midp), as plink.
    """
    n_het, n_hom1, n_hom2 = int(n_het), int(n_hom1), int(n_hom2)
    if min(n_het, n_hom1, n_hom2) < 0:
        raise ValueError(f"negative genotype count: het={n_het} hom1={n_hom1} hom2={n_hom2}")
    homr, homc = min(n_hom1, n_hom2), max(n_hom1, n_hom2)
    n = n_het + homr + homc
    if n == 0:
        return 0.5 if midp else 1.0
    rare = 2 * homr + n_het  # copies of the rarer allele
    # Heterozygote counts with the parity of rare: h = rare % 2, rare % 2 + 2, ..., rare (rare <= n).
    h = np.arange(rare % 2, rare - 1, 2, dtype=np.float64)  # each h but the last: ratio P(h + 2) / P(h)
    hom_rare = (rare - h) / 2
    hom_common = n - h - hom_rare
    log_ratio = np.log(4.0 * hom_rare * hom_common) - np.log((h + 2.0) * (h + 1.0))
    log_p = np.concatenate(([0.0], np.cumsum(log_ratio)))
    prob = np.exp(log_p - log_p.max())  # relative to the mode: no overflow, far tails underflow to 0
    observed = prob[(n_het - rare % 2) // 2]
    total = prob.sum()
    tail = prob[prob <= observed * (1 + _TIE)].sum()
    if midp:
        ties = prob[np.abs(prob - observed) <= observed * _TIE].sum()
        tail -= 0.5 * ties
    return float(min(1.0, tail / total))


def hwe_pvalues(het, hom1, hom2, midp: bool = False) -> np.ndarray:
    """hwe_exact over arrays of genotype counts (float64 result); each distinct (het, hom1, hom2) is computed once
    (hom1/hom2 order does not matter)."""
    het, hom1, hom2 = (np.asarray(a, dtype=np.int64) for a in (het, hom1, hom2))
    if not (het.shape == hom1.shape == hom2.shape):
        raise ValueError("het, hom1 and hom2 must have the same shape")
    if het.size == 0:
        return np.empty(het.shape, dtype=np.float64)
    triples = np.stack([het.ravel(), np.minimum(hom1, hom2).ravel(), np.maximum(hom1, hom2).ravel()], axis=1)
    distinct, inverse = np.unique(triples, axis=0, return_inverse=True)
    values = np.fromiter((hwe_exact(a, b, c, midp) for a, b, c in distinct.tolist()), dtype=np.float64,
                         count=len(distinct))
    return values[inverse.reshape(-1)].reshape(het.shape)


# ---------------------------------------------------------------------------------------------------------------
# Spark transforms

_SPARK_TYPES = {"bigint": "bigint", "int": "int", "smallint": "smallint", "tinyint": "tinyint", "double": "double",
                "float": "float", "boolean": "boolean", "string": "string"}


def _conform(df, table: Table):
    """Exactly the contract's columns, in its order, cast to its Spark types."""
    from pyspark.sql import functions as F

    return df.select(*[F.col(c.name).cast(_SPARK_TYPES[c.type]).alias(c.name) for c in table.all_columns])


def _samples_per_file(samples):
    from pyspark.sql import functions as F

    return samples.groupBy("source_file").agg(F.count(F.lit(1)).alias("n_samples"))


_IS_BASE = "^[ACGTacgt]$"


def _allele_class(ref: str = "ref", alt: str = "alt"):
    """(is_snv, is_transition, is_indel) Column expressions for a site allele.

    SNV: REF and ALT single bases A/C/G/T. Transition: A<->G or C<->T. Indel: REF and ALT plain sequences
    (A/C/G/T/N) of different lengths (as bcftools classifies normalised indels; symbolic alleles, '*' and MNPs
    are neither SNV nor indel).
    """
    from pyspark.sql import functions as F

    r, a = F.upper(F.col(ref)), F.upper(F.col(alt))
    is_snv = F.col(ref).rlike(_IS_BASE) & F.col(alt).rlike(_IS_BASE) & (r != a)
    pair = F.concat(r, a)
    is_ti = is_snv & pair.isin("AG", "GA", "CT", "TC")
    plain = "^[ACGTNacgtn]+$"
    is_indel = F.col(ref).rlike(plain) & F.col(alt).rlike(plain) & (F.length(ref) != F.length(alt))
    return is_snv, is_ti, is_indel


def variant_qc(sites, samples, thresholds: QcThresholds | None = None):
    """One row per ``sites`` row with exactly VARIANT_QC's columns (Spark DataFrame).

    n_samples = rows of ``samples`` of the same source_file (0 for a sites-only VCF, or ``samples`` None).
    n_called = n_hom_ref + n_het + n_hom_alt; call_rate = n_called / n_samples (null without samples);
    maf = min(af, 1 - af); het_observed = n_het / n_called; het_expected = 2 af (1 - af) (diploid sites);
    hwe_p = exact test on (n_het, n_hom_ref, n_hom_alt), null unless the site is diploid and has a called sample
    (diploid: hom_ref_ploidy 2; at a site without a hom-ref sample, 2 n_called <= an <= 2 n_called + n_missing);
    haploid (hom_ref_ploidy 1, e.g. chrY, male chrX coded haploid) and polyploid sites get no HWE p-value. On a
    mixed-ploidy site (chrX of both sexes) the test runs on the diploid spelling's counts as they are. Flags are
    set only where their metric is measured (a null call_rate, maf or hwe_p sets no flag).
    """
    from pyspark.sql import functions as F

    t = thresholds or QcThresholds()
    midp = bool(t.hwe_midp)

    if samples is not None:
        counts = _samples_per_file(samples)
        df = sites.join(F.broadcast(counts), "source_file", "left")
    else:
        df = sites.withColumn("n_samples", F.lit(None).cast("bigint"))
    is_snv, _, _ = _allele_class()
    n_called = F.col("n_hom_ref") + F.col("n_het") + F.col("n_hom_alt")
    df = (df.withColumn("n_samples", F.coalesce(F.col("n_samples"), F.lit(0)))
          .withColumn("n_called", n_called)
          .withColumn("is_snv", is_snv))
    # Diploid: by the implied hom-ref spelling, or without a hom-ref sample by AN: every called sample gives 2
    # alleles, a partly missing one (0/.) at most 1 more.
    spare = F.col("an") - 2 * F.col("n_called")
    diploid = (F.coalesce(F.col("hom_ref_ploidy") == 2, (spare >= 0) & (spare <= F.col("n_missing")))
               & (F.col("n_called") > 0))
    df = (df.withColumn("call_rate", F.when(F.col("n_samples") > 0, F.col("n_called") / F.col("n_samples")))
          .withColumn("maf", F.least(F.col("af"), 1 - F.col("af")))
          .withColumn("het_observed", F.when(F.col("n_called") > 0, F.col("n_het") / F.col("n_called")))
          .withColumn("het_expected", F.when(diploid, 2 * F.col("af") * (1 - F.col("af"))))
          .withColumn("_diploid", diploid))
    df = (_with_hwe(df, midp)
          .withColumn("hwe_p", F.when(F.col("_diploid"), F.col("_hwe_p")))
          .withColumn("hwe_midp", F.lit(midp)))
    df = (df.withColumn("low_call_rate", F.coalesce(F.col("call_rate") < F.lit(float(t.min_call_rate)), F.lit(False)))
          .withColumn("low_maf", F.coalesce(F.col("maf") < F.lit(float(t.min_maf)), F.lit(False)))
          .withColumn("hwe_failed", F.coalesce(F.col("hwe_p") < F.lit(float(t.min_hwe_p)), F.lit(False))))
    df = df.withColumn("qc_pass", ~(F.col("low_call_rate") | F.col("low_maf") | F.col("hwe_failed")))
    return _conform(df, VARIANT_QC)


def _with_hwe(df, midp: bool):
    """df + _hwe_p: the exact test of each diploid row's (n_het, n_hom_ref, n_hom_alt). Sites share few distinct
    count triples (rare variants above all), so the distinct triples are computed once on the driver and joined
    back (no Python worker: a pandas UDF costs a worker start per executor, ~10 s in a fresh process)."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    keys = ["n_het", "n_hom_ref", "n_hom_alt"]
    triples = df.where(F.col("_diploid")).select(*[F.col(k).cast("int") for k in keys]).distinct().toArrow()
    values = hwe_pvalues(*(triples[k].to_numpy(zero_copy_only=False) for k in keys), midp=midp)
    schema = "n_het int, n_hom_ref int, n_hom_alt int, _hwe_p double"
    lookup = df.sparkSession.createDataFrame(triples.append_column("_hwe_p", pa.array(values, pa.float64())),
                                             schema=schema)
    return df.join(F.broadcast(lookup), keys, "left")


_SITE_KEY = ["source_file", "chromosome", "start", "ref", "alt", "alt_index"]


def _call_alleles():
    """All allele indices of a calls row as array<int> (allele1, allele2 unless haploid, extra_alleles)."""
    from pyspark.sql import functions as F

    empty = F.array().cast("array<int>")
    return F.concat(
        F.array(F.col("allele1").cast("int")),
        F.when(F.col("allele2").isNotNull(), F.array(F.col("allele2").cast("int"))).otherwise(empty),
        F.coalesce(F.col("extra_alleles").cast("array<int>"), empty),
    )


def _classified_calls(calls):
    """calls + is_missing, copies of the row's ALT, ploidy, is_het, is_hom_alt."""
    from pyspark.sql import functions as F

    alleles = _call_alleles()
    df = calls.withColumn("_alleles", alleles)
    missing = F.exists("_alleles", lambda a: a < 0)
    copies = F.size(F.filter("_alleles", lambda a: a == F.col("alt_index").cast("int")))
    df = (df.withColumn("is_missing", missing)
          .withColumn("copies", copies)
          .withColumn("ploidy", F.size("_alleles")))
    return (df.withColumn("is_het", ~F.col("is_missing") & (F.col("copies") > 0) & (F.col("copies") < F.col("ploidy")))
            .withColumn("is_hom_alt", ~F.col("is_missing") & (F.col("copies") == F.col("ploidy"))))


def sample_qc(calls, sites, samples, thresholds: QcThresholds | None = None):
    """One row per (source_file, sample_id) of ``samples`` with exactly SAMPLE_QC's columns (Spark DataFrame).

    Counted per site allele (a row of sites) from the sample's calls rows: het / hom-alt by copies of the row's
    ALT, missing when an allele is '.', a calls row that is a differently spelled reference call counts as hom-ref.
    A sample without a row at a site is hom-ref, except at a site with null hom_ref_ploidy (a record without GT),
    where it is missing. n_hom_ref = n_sites - n_het - n_hom_alt - n_missing. Ti/Tv and indels count non-reference
    genotypes (het or hom-alt) at SNVs / indels, once per genotype, as bcftools stats -s - does.
    """
    from pyspark.sql import functions as F

    t = thresholds or QcThresholds()
    per_file = sites.groupBy("source_file").agg(
        F.count(F.lit(1)).alias("n_sites"),
        F.sum(F.col("hom_ref_ploidy").isNull().cast("long")).alias("n_unknown_sites"))
    c = _classified_calls(calls)
    is_snv, is_ti, is_indel = _allele_class()
    non_ref = F.col("is_het") | F.col("is_hom_alt")
    agg = c.groupBy("source_file", "sample_id").agg(
        F.sum(F.col("is_het").cast("long")).alias("n_het"),
        F.sum(F.col("is_hom_alt").cast("long")).alias("n_hom_alt"),
        F.sum(F.col("is_missing").cast("long")).alias("n_missing_rows"),
        F.sum((non_ref & is_ti).cast("long")).alias("n_transitions"),
        F.sum((non_ref & is_snv & ~is_ti).cast("long")).alias("n_transversions"),
        F.sum((non_ref & is_indel).cast("long")).alias("n_indels"))
    # Rows at sites without an implied genotype (null hom_ref_ploidy): a sample without a row there is missing.
    unknown_sites = sites.filter(F.col("hom_ref_ploidy").isNull()).select(*_SITE_KEY).distinct()
    at_unknown = (calls.join(F.broadcast(unknown_sites), _SITE_KEY, "left_semi")
                  .groupBy("source_file", "sample_id").agg(F.count(F.lit(1)).alias("rows_at_unknown")))
    df = (samples.select("source_file", "sample_id")
          .join(per_file, "source_file", "left")
          .join(agg, ["source_file", "sample_id"], "left")
          .join(at_unknown, ["source_file", "sample_id"], "left"))
    zero = F.lit(0).cast("long")
    for name in ("n_sites", "n_unknown_sites", "n_het", "n_hom_alt", "n_missing_rows", "n_transitions",
                 "n_transversions", "n_indels", "rows_at_unknown"):
        df = df.withColumn(name, F.coalesce(F.col(name), zero))
    df = df.withColumn("n_missing", F.col("n_missing_rows") + F.col("n_unknown_sites") - F.col("rows_at_unknown"))
    df = (df.withColumn("n_hom_ref", F.col("n_sites") - F.col("n_het") - F.col("n_hom_alt") - F.col("n_missing"))
          .withColumn("n_called", F.col("n_sites") - F.col("n_missing"))
          .withColumn("n_non_ref", F.col("n_het") + F.col("n_hom_alt")))
    df = (df.withColumn("call_rate", F.when(F.col("n_sites") > 0, F.col("n_called") / F.col("n_sites")))
          .withColumn("het_rate", F.when(F.col("n_called") > 0, F.col("n_het") / F.col("n_called")))
          .withColumn("ti_tv", F.when(F.col("n_transversions") > 0,
                                      F.col("n_transitions") / F.col("n_transversions")))
          .withColumn("low_call_rate", F.coalesce(F.col("call_rate") < F.lit(float(t.min_sample_call_rate)),
                                                  F.lit(False))))
    df = df.withColumn("qc_pass", ~F.col("low_call_rate"))
    return _conform(df, SAMPLE_QC)


DISCORDANT_COLUMNS = ["sample_id", "chromosome", "start", "ref", "alt", "source_file_a", "genotype_a",
                      "source_file_b", "genotype_b"]


def discordant_genotypes(calls, sites, samples, changed=None):
    """Samples typed in more than one file whose genotypes differ at the same site (chromosome, start, ref, alt).

    A sample without a calls row at a site of its file has the implied hom-ref genotype (0|0, 0/0 or 0 by the
    site's hom_ref_ploidy/hom_ref_phased); missing genotypes (any '.') and sites without an implied genotype are
    ignored. Genotypes are compared order-insensitively with each allele index read as REF (0), this row's ALT
    (alt_index) or another ALT, so phasing alone, or the ALT's index differing between files, is no discordance.
    One row per (sample, site, pair of files), source_file_a < source_file_b; genotypes as written.
    Only the calls rows of samples present in several files are read; hom-ref genotypes are only spelled out for
    (site, file pair) combinations where the two files imply different reference genotypes (different ploidy).
    ``changed`` (source_file keys): only the pairs with at least one of these files (an increment).
    """
    from pyspark.sql import functions as F

    key = ["chromosome", "start", "ref", "alt"]
    multi = (samples.select("sample_id", "source_file").distinct()
             .withColumn("n_files", F.count(F.lit(1)).over(_window("sample_id")))
             .filter(F.col("n_files") > 1).drop("n_files"))
    # Pairs of files sharing a sample.
    a, b = multi.alias("a"), multi.alias("b")
    same_sample = (F.col("a.sample_id") == F.col("b.sample_id")) & (F.col("a.source_file") < F.col("b.source_file"))
    pairs = (a.join(b, same_sample)
             .select(F.col("a.sample_id").alias("sample_id"), F.col("a.source_file").alias("source_file_a"),
                     F.col("b.source_file").alias("source_file_b")))
    if changed is not None:
        keys = sorted(changed)
        pairs = pairs.where(F.col("source_file_a").isin(keys) | F.col("source_file_b").isin(keys))
    files = multi.select("source_file").distinct()
    site_cols = [*key, "source_file", "hom_ref_ploidy", "hom_ref_phased"]
    s = (sites.join(F.broadcast(files), "source_file", "left_semi").select(*site_cols)
         .dropDuplicates([*key, "source_file"]))
    sa = s.select(*key, F.col("source_file").alias("source_file_a"), F.col("hom_ref_ploidy").alias("ploidy_a"),
                  F.col("hom_ref_phased").alias("phased_a"))
    sb = s.select(*key, F.col("source_file").alias("source_file_b"), F.col("hom_ref_ploidy").alias("ploidy_b"),
                  F.col("hom_ref_phased").alias("phased_b"))
    file_pairs = pairs.select("source_file_a", "source_file_b").distinct()
    shared_sites = (sa.join(sb, key).filter(F.col("source_file_a") < F.col("source_file_b"))
                    .join(file_pairs, ["source_file_a", "source_file_b"], "left_semi"))

    # Genotypes from calls rows of the multi-file samples (missing calls dropped: they compare to nothing).
    c = _classified_calls(calls.join(F.broadcast(multi), ["sample_id", "source_file"], "left_semi"))
    c = c.filter(~F.col("is_missing"))
    ai = F.col("alt_index").cast("int")
    normal = F.array_sort(F.transform("_alleles", lambda x: F.when(x == 0, F.lit(0)).when(x == ai, F.lit(1))
                                      .otherwise(F.lit(2))))
    text = F.array_join(F.transform("_alleles", lambda x: x.cast("string")), "|")
    text = F.when(F.col("phased"), text).otherwise(F.regexp_replace(text, r"\|", "/"))
    called = c.select("sample_id", "source_file", *key, text.alias("genotype"), normal.alias("normal"))

    # Candidates: (sample, site, file pair) where one side has a calls row, or the implied genotypes differ.
    ca = called.withColumnRenamed("source_file", "f")
    cand_a = ca.join(pairs, (ca.sample_id == pairs.sample_id) & (F.col("f") == F.col("source_file_a"))) \
        .select(pairs.sample_id, "source_file_a", "source_file_b", *[ca[k] for k in key])
    cand_b = ca.join(pairs, (ca.sample_id == pairs.sample_id) & (F.col("f") == F.col("source_file_b"))) \
        .select(pairs.sample_id, "source_file_a", "source_file_b", *[ca[k] for k in key])
    odd_sites = shared_sites.filter(~F.col("ploidy_a").eqNullSafe(F.col("ploidy_b")))
    cand_odd = odd_sites.select("source_file_a", "source_file_b", *key).join(
        pairs, ["source_file_a", "source_file_b"]).select("sample_id", "source_file_a", "source_file_b", *key)
    cand = cand_a.unionByName(cand_b).unionByName(cand_odd).distinct()
    cand = cand.join(shared_sites, ["source_file_a", "source_file_b", *key])

    def implied(ploidy, phased):
        zeros = F.array_repeat(F.lit(0), F.coalesce(F.col(ploidy).cast("int"), F.lit(0)))
        txt = F.array_join(F.transform(zeros, lambda x: x.cast("string")), "|")
        txt = F.when(F.col(phased), txt).otherwise(F.regexp_replace(txt, r"\|", "/"))
        return F.when(F.col(ploidy).isNotNull(), txt), F.when(F.col(ploidy).isNotNull(), zeros)

    ga = called.select("sample_id", F.col("source_file").alias("source_file_a"), *key,
                       F.col("genotype").alias("call_a"), F.col("normal").alias("normal_a"))
    gb = called.select("sample_id", F.col("source_file").alias("source_file_b"), *key,
                       F.col("genotype").alias("call_b"), F.col("normal").alias("normal_b"))
    rows = (cand.join(ga, ["sample_id", "source_file_a", *key], "left")
            .join(gb, ["sample_id", "source_file_b", *key], "left"))
    # A missing call of the sample (a calls row dropped above) must not fall back to the implied genotype.
    missing = _classified_calls(calls.join(F.broadcast(multi), ["sample_id", "source_file"], "left_semi")) \
        .filter(F.col("is_missing")).select("sample_id", "source_file", *key).distinct()
    rows = (rows.join(missing.withColumnRenamed("source_file", "source_file_a"), ["sample_id", "source_file_a", *key],
                      "left_anti")
            .join(missing.withColumnRenamed("source_file", "source_file_b"), ["sample_id", "source_file_b", *key],
                  "left_anti"))
    text_a, zeros_a = implied("ploidy_a", "phased_a")
    text_b, zeros_b = implied("ploidy_b", "phased_b")
    rows = (rows.withColumn("genotype_a", F.coalesce("call_a", text_a))
            .withColumn("normal_a", F.coalesce("normal_a", zeros_a))
            .withColumn("genotype_b", F.coalesce("call_b", text_b))
            .withColumn("normal_b", F.coalesce("normal_b", zeros_b)))
    rows = rows.filter(F.col("normal_a").isNotNull() & F.col("normal_b").isNotNull()
                       & (F.col("normal_a") != F.col("normal_b")))
    return (rows.select(F.col("sample_id").cast("string"), F.col("chromosome").cast("string"),
                        F.col("start").cast("bigint"), F.col("ref").cast("string"), F.col("alt").cast("string"),
                        F.col("source_file_a").cast("string"), F.col("genotype_a").cast("string"),
                        F.col("source_file_b").cast("string"), F.col("genotype_b").cast("string"))
            .distinct())


def _window(*cols):
    from pyspark.sql import Window

    return Window.partitionBy(*cols)
