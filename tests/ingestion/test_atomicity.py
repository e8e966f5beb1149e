"""Partitions are replaced exactly (no duplicates, no leftovers) and a killed run changes nothing."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genolake_assets.cli import app
from resources.query import DuckDBQueryEngine
from resources.storage import LocalStorage
from tests.conftest import ROOT, VCF_100, VCF_COMT, VCF_CYP2D6, copy_with_index

pytestmark = pytest.mark.slow
runner = CliRunner()


def _ingest(*paths):
    result = runner.invoke(app, ["ingest", *map(str, paths)], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _rows(home):
    engine = DuckDBQueryEngine(home=str(home))
    out = {}
    for table in ("sites", "calls", "samples"):
        for row in engine.query(f"SELECT source_file, count(*) AS n FROM genolake.{table} GROUP BY 1").to_pylist():
            out[(table, row["source_file"])] = row["n"]
    return out


def _published(home):
    """Every published Parquet file with its size (staging, journals and trash left out)."""
    root = home / "warehouse"
    return {
        str(p.relative_to(root)): p.stat().st_size
        for p in root.rglob("*.parquet")
        if not p.relative_to(root).parts[0].startswith("_")
    }


def test_reingest_replaces_exactly_that_files_rows(spark, home, tmp_path):
    cohort = copy_with_index(VCF_100, tmp_path / "v1", "cohort.vcf.gz")
    other = copy_with_index(VCF_CYP2D6, tmp_path / "v1")
    _ingest(cohort, other)
    before = _rows(home)
    key = next(k for (_, k) in before if k.startswith("cohort-"))
    assert before[("samples", key)] == 100

    # the same name lands again with other content (the COMT slice): that file's rows are replaced
    changed = copy_with_index(VCF_COMT, tmp_path / "v2", "cohort.vcf.gz")
    _ingest(changed)
    after = _rows(home)
    assert after[("samples", key)] == 2504 and after[("sites", key)] == 616 and after[("calls", key)] == 259_675
    untouched = {k: v for k, v in before.items() if k[1] != key}
    assert {k: v for k, v in after.items() if k[1] != key} == untouched

    _ingest(changed)  # and once more, unchanged: same rows, no duplicates
    assert _rows(home) == after


def test_a_killed_run_leaves_every_table_as_it_was(spark, home, tmp_path):
    cohort = copy_with_index(VCF_100, tmp_path / "v1", "cohort.vcf.gz")
    _ingest(cohort)
    rows, files = _rows(home), _published(home)

    bigger = copy_with_index(VCF_CYP2D6, tmp_path / "v2", "cohort.vcf.gz")
    env = {**os.environ, "GENOLAKE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    process = subprocess.Popen([sys.executable, "-m", "genolake_assets.cli", "ingest", str(bigger)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    staged = None
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and process.poll() is None:
            staged = next((p for p in (home / "warehouse" / "_staging").glob("*/calls/*/*/*.parquet")), None)
            if staged is not None:
                break
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the run dies while its partition sits in staging
        process.wait(timeout=30)
    assert staged is not None, "the run never reached the write"
    assert process.returncode == -signal.SIGKILL

    assert _published(home) == files  # not one published file changed
    assert _rows(home) == rows  # and every table reads as before
    assert len(list((home / "warehouse" / "_staging").iterdir())) == 1  # the dead run's staging is left behind

    _ingest(bigger)  # the file can simply be ingested again; the next run cleans the dead run's staging
    assert list((home / "warehouse" / "_staging").iterdir()) == []
    assert _rows(home)[("samples", next(k for (_, k) in rows if k.startswith("cohort-")))] == 2504


class DiesMidCommit(LocalStorage):
    """Storage whose process 'dies' after the first of two swaps of a commit."""

    def _apply(self, journal):
        LocalStorage._apply(self, {**journal, "moves": journal["moves"][:1]})
        raise KeyboardInterrupt("killed between two swaps")


def test_recover_finishes_a_commit_that_died_half_way(tmp_path):
    for table in ("sites", "calls"):
        folder = tmp_path / "warehouse" / table / "source_file=f"
        folder.mkdir(parents=True)
        (folder / "part.parquet").write_text("old")
    dying = DiesMidCommit(home=str(tmp_path))
    with dying.staging() as staging:
        for table in ("sites", "calls"):
            folder = Path(staging) / table / "source_file=f"
            folder.mkdir(parents=True)
            (folder / "part.parquet").write_text("new")
        with pytest.raises(KeyboardInterrupt):
            dying.commit(staging, ["sites/source_file=f", "calls/source_file=f"])
    published = tmp_path / "warehouse"
    assert (published / "sites/source_file=f/part.parquet").read_text() == "new"
    assert (published / "calls/source_file=f/part.parquet").read_text() == "old"  # half done
    assert Path(staging).exists()  # kept: the journal still needs it

    assert len(LocalStorage(home=str(tmp_path)).recover()) == 1  # what the next run or query does first
    assert (published / "sites/source_file=f/part.parquet").read_text() == "new"
    assert (published / "calls/source_file=f/part.parquet").read_text() == "new"
    assert not Path(staging).exists() and not list((published / "_commits").iterdir())
