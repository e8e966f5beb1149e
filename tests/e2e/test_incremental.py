"""Adding a file costs O(that file): QC and annotation compute only the partitions of new or changed files, keep the
others' data files as they are, and equal a full recomputation row by row. Compaction keeps every row and the time
travel to before it."""

import re
import shutil

import pytest
from typer.testing import CliRunner

from genolake_assets.cli import app
from genolake_assets.layers.annotated import newest_release
from genolake_assets.transforms import qc
from genolake_assets.transforms.annotate import annotate
from resources.catalog import local_lakehouse
from tests.conftest import CLINVAR, ROOT, VCF_COMT, VCF_CYP2D6, copy_with_index

pytestmark = pytest.mark.slow
ONEKG = ROOT / "data" / "onekg"
DERIVED = ("variant_qc", "sample_qc", "annotated_variants")


def _ingest(*files):
    result = CliRunner().invoke(app, ["ingest", *map(str, files)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _rows(table) -> list:
    """Rows as comparable tuples, sorted (column order as given)."""
    names = table.column_names
    return sorted(tuple(repr(row[n]) for n in names) for row in table.to_pylist())


def _full_recomputation(spark, lakehouse, commit_set) -> dict:
    """variant_qc, sample_qc and annotated_variants computed from scratch over every file of the set."""
    def read(name):
        files = lakehouse.localize([f.path for f in lakehouse.files(name, commit_set.snapshot(name))])
        return spark.read.parquet(*files)

    sites, calls, samples, clinvar = read("sites"), read("calls"), read("samples"), read("clinvar")
    release = newest_release(lakehouse, commit_set)
    thresholds = qc.QcThresholds()
    return {
        "variant_qc": qc.variant_qc(sites, samples, thresholds).toArrow(),
        "sample_qc": qc.sample_qc(calls, sites, samples, thresholds).toArrow(),
        "annotated_variants": annotate(sites, clinvar.where(clinvar.release == release), "GRCh37").toArrow(),
    }


def _by_file(lakehouse, name, commit_set) -> dict:
    """source_file -> the data file paths of its partitions."""
    out = {}
    for f in lakehouse.files(name, commit_set.snapshot(name)):
        out.setdefault(f.partition["source_file"], set()).add(f.path)
    return out


def test_new_and_changed_files_compute_only_their_partitions(spark, home, tmp_path):
    changing = copy_with_index(ONEKG / "HG00096.vcf.bgz", tmp_path / "in", "changing.vcf.bgz")
    _ingest(CLINVAR, changing, VCF_CYP2D6)
    lakehouse = local_lakehouse(str(home))
    first = lakehouse.current_set()
    before = {name: _by_file(lakehouse, name, first) for name in DERIVED}
    assert len(before["variant_qc"]) == len(before["sample_qc"]) == 2
    # a file without ClinVar matches has no annotated partition: it is remembered as computed with no rows
    no_match = set(before["variant_qc"]) - set(before["annotated_variants"])
    assert set(lakehouse._empty_partitions("annotated_variants")) == no_match

    # a new file: only its partitions are computed; the others keep their data files
    _ingest(ONEKG / "HG00097.vcf.bgz")
    second = lakehouse.current_set()
    for name in DERIVED:
        after = _by_file(lakehouse, name, second)
        assert len(after) == len(before[name]) + (name != "annotated_variants"), name
        for key, paths in before[name].items():
            assert after[key] == paths, f"{name}: the partition of {key} was rewritten"
    new_key = (set(_by_file(lakehouse, "sites", second)) - set(before["variant_qc"])).pop()
    new_sites = sum(f.records for f in lakehouse.files("sites", second.snapshot("sites"))
                    if f.partition["source_file"] == new_key)
    qc_commit = [h for h in lakehouse.history("variant_qc") if h["published"]][-1]
    assert (qc_commit["rows_added"], qc_commit["rows_removed"]) == (new_sites, 0)

    # the same path with new content (COMT instead of HG00096): its partition is replaced, the others stay
    shutil.copyfile(VCF_COMT, changing)
    for suffix in (".tbi", ".csi"):
        (changing.parent / (changing.name + suffix)).unlink(missing_ok=True)
    _ingest(changing)
    third = lakehouse.current_set()
    key = next(k for k in before["variant_qc"] if k.startswith("changing"))
    assert key in _by_file(lakehouse, "annotated_variants", third)  # COMT has ClinVar matches
    for name in DERIVED:
        after = _by_file(lakehouse, name, third)
        assert after[key].isdisjoint(before[name].get(key, set())), f"{name}: the changed file was not recomputed"
        for other, paths in _by_file(lakehouse, name, second).items():
            if other != key:
                assert after[other] == paths, f"{name}: the unchanged partition of {other} was rewritten"

    # row by row, the increments equal a full recomputation over every file
    expected = _full_recomputation(spark, lakehouse, third)
    for name in DERIVED:
        table = lakehouse.read(name, third.snapshot(name))
        want = expected[name].select(table.column_names)
        assert table.num_rows == want.num_rows > 0, name
        assert _rows(table) == _rows(want), name

    # nothing new: a publish computes and commits nothing for the derived tables (files without rows included)
    commits = {name: len(lakehouse.history(name)) for name in DERIVED}
    output = _ingest(CLINVAR)
    assert {name: len(lakehouse.history(name)) for name in DERIVED} == commits, output


def test_compaction_keeps_rows_and_time_travel(spark, home, tmp_path):
    _ingest(CLINVAR, ONEKG / "HG00096.vcf.bgz", ONEKG / "HG00097.vcf.bgz")
    lakehouse = local_lakehouse(str(home))
    before = lakehouse.current_set()
    rows = {name: _rows(lakehouse.read(name, before.snapshot(name))) for name in ("sites", "calls", *DERIVED)}
    files = {name: lakehouse.stats(name, before.snapshot(name))["data_files"] for name in ("sites", "calls", *DERIVED)}

    done = lakehouse.compact(min_files=1)  # every partition rewritten: the strongest case
    after = lakehouse.current_set()
    assert after.commit_id != before.commit_id and after.operation == "compact"
    assert set(done) >= {"sites", "calls", "variant_qc", "sample_qc"}  # (these files have no ClinVar match)
    for name, expected in rows.items():
        assert _rows(lakehouse.read(name, after.snapshot(name))) == expected, name
        assert lakehouse.stats(name, after.snapshot(name))["data_files"] <= files[name], name
        # time travel: the set before compaction still reads its own files, with the same rows
        old = {f.path for f in lakehouse.files(name, before.snapshot(name))}
        assert old.isdisjoint(f.path for f in lakehouse.files(name, after.snapshot(name))), name
        assert _rows(lakehouse.read(name, before.snapshot(name))) == expected, name
    # a compacted derived partition keeps its input fingerprint (what it was computed from) ...
    for name in DERIVED:
        def fingerprints(commit_set):
            return sorted(re.search(r"/by_input=(\w+)/", f.path).group(1)
                          for f in lakehouse.files(name, commit_set.snapshot(name)))
        assert fingerprints(after) == fingerprints(before), name
    # ... and partitions of a single file are left alone by the default (min_files=2)
    assert lakehouse.compact() == {}
