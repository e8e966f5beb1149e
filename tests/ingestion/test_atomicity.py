"""A file's rows are replaced exactly (no duplicates, no leftovers), a killed run changes nothing readers see (killed
while writing, or between two table commits), and concurrent commits all land."""

import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from genolake_assets.cli import app
from resources.lakehouse import PAUSE_ENV, Lakehouse, local_path
from resources.query import DuckDBQueryEngine
from tests.conftest import ROOT, VCF_100, VCF_COMT, VCF_CYP2D6, copy_with_index

pytestmark = pytest.mark.slow
runner = CliRunner()


def _ingest(*paths):
    result = runner.invoke(app, ["ingest", *map(str, paths)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _rows(home):
    engine = DuckDBQueryEngine(home=str(home))
    out = {}
    for table in ("sites", "calls", "samples"):
        for row in engine.query(f"SELECT source_file, count(*) AS n FROM genolake.{table} GROUP BY 1").to_pylist():
            out[(table, row["source_file"])] = row["n"]
    return out


def _published(home):
    """Every data file the current snapshot set reads, with its size."""
    lakehouse = Lakehouse.local(str(home))
    current = lakehouse.current_set()
    return {f.path: f.bytes for t in ("sites", "calls", "samples") for f in lakehouse.files(t, current.snapshot(t))}


def _data_files(home):
    return {str(p) for p in (home / "warehouse").glob("*/data/**/*.parquet")}


def _head(home, table):
    snapshot = Lakehouse.local(str(home)).catalog.load_table(f"genolake.{table}").current_snapshot()
    return snapshot.snapshot_id if snapshot is not None else None


def _start_ingest(home, path, **env):
    environment = {**os.environ, "GENOLAKE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), **env}
    return subprocess.Popen([sys.executable, "-m", "genolake_assets.cli", "ingest", str(path)], cwd=ROOT,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for(condition, process, seconds=180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _kill(process):
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


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
    # each ingest was one recorded set over the three tables (the first one a batch of both files, naming both)
    lakehouse = Lakehouse.local(str(home))
    ingests = [s for s in lakehouse.sets() if s.operation == "ingest" and key in (s.source_file or "").split(",")]
    assert len(ingests) == 3 and len(ingests[0].source_file.split(",")) == 2


def test_a_run_killed_while_writing_changes_nothing_and_its_files_are_swept(spark, home, tmp_path):
    cohort = copy_with_index(VCF_100, tmp_path / "v1", "cohort.vcf.gz")
    _ingest(cohort)
    rows, published = _rows(home), _published(home)
    heads = {t: _head(home, t) for t in ("sites", "calls", "samples")}
    existing = _data_files(home)

    bigger = copy_with_index(VCF_CYP2D6, tmp_path / "v2", "cohort.vcf.gz")
    process = _start_ingest(home, bigger)
    try:
        reached = _wait_for(lambda: any("/calls/" in p for p in _data_files(home) - existing), process)
    finally:
        _kill(process)  # the run dies with its data files written but not committed
    assert reached, "the run never reached the write"
    orphans = _data_files(home) - existing
    assert orphans

    assert _published(home) == published  # readers read exactly the same files
    assert _rows(home) == rows  # and every table reads as before
    assert {t: _head(home, t) for t in heads} == heads  # not one table commit happened

    # upkeep removes the dead run's files (and nothing the tables read)
    result = runner.invoke(app, ["maintain", "--orphans-older-than", "0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not {p for p in orphans if os.path.exists(p)}
    assert all(os.path.exists(local_path(p)) for p in published)
    assert _rows(home) == rows

    _ingest(bigger)  # the file can simply be ingested again
    assert _rows(home)[("samples", next(k for (_, k) in rows if k.startswith("cohort-")))] == 2504


def test_a_run_killed_between_table_commits_is_never_seen_and_is_rolled_back(spark, home, tmp_path):
    cohort = copy_with_index(VCF_100, tmp_path / "v1", "cohort.vcf.gz")
    _ingest(cohort)
    rows = _rows(home)
    key = next(k for (_, k) in rows if k.startswith("cohort-"))
    sites_before = _head(home, "sites")
    calls_before = _head(home, "calls")

    bigger = copy_with_index(VCF_CYP2D6, tmp_path / "v2", "cohort.vcf.gz")
    # the commit waits (test hook) after staging calls: the run is killed with sites committed, calls not
    process = _start_ingest(home, bigger, **{PAUSE_ENV: "60"})
    try:
        reached = _wait_for(lambda: _head(home, "sites") != sites_before, process)
    finally:
        _kill(process)
    assert reached, "the run never committed sites"
    assert _head(home, "calls") == calls_before  # died between the table commits

    # the sites table's head holds the new file's sites, yet readers see the old set: sites, calls and samples
    # of the file all as before (never 653 new sites next to 100-sample calls)
    assert _rows(home) == rows
    dead = Lakehouse.local(str(home)).history("sites")[-1]
    assert dead["current"] and not dead["published"] and dead["source_file"] == key
    printed = runner.invoke(app, ["history", "sites"], catch_exceptions=False).output
    assert "unpublished" in printed

    # the next commit rolls the dead run's snapshot back (and says so in the commit log), then lands
    _ingest(bigger)
    lakehouse = Lakehouse.local(str(home))
    repairs = [s for s in lakehouse.sets() if s.operation == "repair"]
    assert len(repairs) == 1
    assert not next(h for h in lakehouse.history("sites") if h["snapshot_id"] == dead["snapshot_id"])["current"]
    after = _rows(home)
    assert (after[("sites", key)], after[("calls", key)], after[("samples", key)]) == (653, 288_061, 2504)


def test_concurrent_commits_both_land(spark, home, tmp_path):
    """Two ingests at once both land (the commit lock orders their sets), and a commit that finds its table moved
    under it by another writer is retried by Iceberg's optimistic concurrency and lands too."""
    first = copy_with_index(VCF_100, tmp_path / "a", "first.vcf.gz")
    second = copy_with_index(VCF_COMT, tmp_path / "b", "second.vcf.gz")
    processes = [_start_ingest(home, first), _start_ingest(home, second)]
    outputs = [p.communicate(timeout=600) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    rows = _rows(home)
    keys = {k for (_, k) in rows}
    assert len(keys) == 2
    by_file = {k.split("-")[0]: (rows[("sites", k)], rows[("calls", k)], rows[("samples", k)]) for k in keys}
    assert by_file == {"first": (1269, 22_032, 100), "second": (616, 259_675, 2504)}

    # another writer commits to calls while genolake's commit of calls is staged (test hook: it waits 8 s)
    third = copy_with_index(VCF_CYP2D6, tmp_path / "c", "third.vcf.gz")
    sites_before = _head(home, "sites")
    process = _start_ingest(home, third, **{PAUSE_ENV: "8"})
    if not _wait_for(lambda: _head(home, "sites") != sites_before, process):
        process.kill()
        raise AssertionError(f"the run never committed sites: {process.communicate()[1][-3000:]}")
    lakehouse = Lakehouse.local(str(home))
    current = lakehouse.current_set()
    foreign = [f.path for f in lakehouse.files("calls", current.snapshot("calls")) if "source_file=first" in f.path]
    copy = local_path(foreign[0]).replace("source_file=first", "source_file=foreign-copy")
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = pq.read_table(local_path(foreign[0]))
    data = data.set_column(data.column_names.index("source_file"), "source_file",
                           pa.array(["foreign"] * data.num_rows, pa.string()))
    os.makedirs(os.path.dirname(copy), exist_ok=True)
    pq.write_table(data, copy)
    table = lakehouse.table("calls")
    table.add_files(["file://" + copy])  # straight to the table, as another engine would
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "concurrent update, retrying" in stderr  # genolake's calls commit met the other one and retried
    rows = _rows(home)
    third_key = next(k for (_, k) in rows if k.startswith("third-"))
    assert (rows[("sites", third_key)], rows[("calls", third_key)], rows[("samples", third_key)]) == (653, 288_061, 2504)
    assert rows[("calls", "foreign")] == data.num_rows  # and the other writer's rows are there too
