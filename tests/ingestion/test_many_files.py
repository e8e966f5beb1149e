"""Single-sample and multi-sample files land in the same tables; the same sample in several files stays apart."""

import pytest
from typer.testing import CliRunner

from genolake_assets.cli import app
from resources.query import DuckDBQueryEngine
from tests.conftest import ROOT, VCF_100

pytestmark = pytest.mark.slow
ONEKG = ROOT / "data" / "onekg"
CHR_PREFIXED = ROOT / "data" / "edge_cases" / "derived" / "1kgp3_chr22_COMT_CYP2D6_GRCh37.100samples.chr_prefixed.vcf.gz"


def test_single_and_multi_sample_files_share_the_tables(spark, home, tmp_path):
    files = [ONEKG / "HG00096.vcf.bgz", ONEKG / "HG00097.vcf.bgz", VCF_100, CHR_PREFIXED]
    result = CliRunner().invoke(app, ["ingest", *map(str, files)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    sql = DuckDBQueryEngine(home=str(home)).query

    per_file = {r["source_path"]: r["n"] for r in sql(
        "SELECT source_path, count(*) AS n FROM genolake.samples GROUP BY 1").to_pylist()}
    assert per_file == {"HG00096.vcf.bgz": 1, "HG00097.vcf.bgz": 1, VCF_100.name: 100, CHR_PREFIXED.name: 100}
    # HG00096 is in three files: three rows, one per source file
    assert sql("SELECT count(DISTINCT source_file) AS n FROM genolake.samples WHERE sample_id = 'HG00096'"
               ).to_pylist() == [{"n": 3}]
    # chr22 and 22 are one chromosome, and the two 100-sample files (same data, two spellings) agree call for call
    assert sql("SELECT DISTINCT chromosome FROM genolake.sites").to_pylist() == [{"chromosome": "22"}]
    counts = sql("""SELECT s.source_path, count(*) AS n FROM genolake.calls c JOIN genolake.samples s
                    ON s.source_file = c.source_file AND s.sample_id = c.sample_id
                    GROUP BY 1""").to_pylist()
    by_path = {r["source_path"]: r["n"] for r in counts}
    assert by_path[VCF_100.name] == by_path[CHR_PREFIXED.name] == 22_032
    # a single-sample file's calls belong to its own partition, not to the multi-sample file with the same sample
    single = sql("""SELECT count(*) AS n FROM genolake.calls c JOIN genolake.samples s
                    ON s.source_file = c.source_file AND s.sample_id = c.sample_id
                    WHERE s.source_path = 'HG00096.vcf.bgz'""").to_pylist()
    assert single == [{"n": 27}]
