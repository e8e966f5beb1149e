"""What the terminal shows when something fails: genolake's own line, once per problem, and no Python or Dagster
stack trace for an expected failure (a rejected file, a blocking check, a bad setting); the full trace goes to the
run log file whose path is printed. A bug (an unexpected error) still shows its trace."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import Definitions, Failure, asset

from genolake_assets import cli, mode
from tests.conftest import ROOT, cli_env

REJECTED = ROOT / "data" / "edge_cases" / "hts-specs-vcf43" / "failed" / "failed_body_alt_000.vcf"
REASON = "line 4: bad ALT at 1:123"
TRACES = ("Traceback", "Stack Trace", "dagster._core", "dagster - ERROR")


def _genolake(home: Path, *args, extra: dict | None = None) -> subprocess.CompletedProcess:
    """`genolake ARGS` in a subprocess: exactly what a terminal would show."""
    return subprocess.run([sys.executable, "-m", "genolake_assets.cli", *map(str, args)], cwd=ROOT,
                          env=cli_env(home, extra), capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_a_rejected_file_is_one_line_and_its_trace_is_in_the_log_file(home, tmp_path):
    source = tmp_path / REJECTED.name
    shutil.copyfile(REJECTED, source)
    done = _genolake(home, "ingest", source)
    printed = done.stdout + done.stderr
    assert done.returncode == 1, printed[-5000:]
    assert f"x [1/1] {REJECTED.name}: rejected: {REJECTED.name}: {REASON}" in printed, printed[-5000:]
    assert printed.count(REASON) == 1  # the terminal speaks once per problem
    for trace in TRACES:
        assert trace not in printed, printed[-5000:]
    # Spark starts without its log4j banner (resources/log4j2.properties is applied)
    assert "default log4j profile" not in printed and "NativeCodeLoader" not in printed, printed[-5000:]

    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("full log: ") and "genolake dev" in last
    log = Path(last.split()[2])
    assert log.parent == home / "logs" and log.name.startswith("ingest-") and log.suffix == ".log"
    text = log.read_text()
    assert text.count("=== run ") == 2  # the file's ingest run and the publish run
    failure = text[text.index("ERROR processed_vcf STEP_FAILURE"):]
    assert REASON in failure and "Stack Trace:" in failure
    assert "VcfRejected" in failure and 'layers/processed.py", line' in failure  # the full chain, with frames


@pytest.mark.parametrize("setting", ["bogus", "aws"])  # aws without its GENOLAKE_* settings (cli_env drops them)
def test_a_bad_setting_is_one_line_and_exit_2(home, setting):
    done = _genolake(home, "ingest", REJECTED, extra={"GENOLAKE_MODE": setting})
    printed = (done.stdout + done.stderr).strip()
    assert done.returncode == 2, printed
    assert len(printed.splitlines()) == 1, printed
    assert printed.startswith("x bad setting: ") and "GENOLAKE_" in printed
    assert not any(trace in printed for trace in TRACES)


@asset
def broken():
    return {}["no such key"]  # a bug


@asset
def refused():
    raise Failure(description="refused: genolake says why")


def test_a_bug_shows_its_trace_and_a_failure_only_goes_to_the_log(home, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_run_log", None)
    instance = cli._instance(mode.current())

    result = cli._materialize(Definitions(assets=[refused]), {}, None, instance)
    assert not result.success
    assert cli._failure_message(result) == "refused: genolake says why"
    assert capsys.readouterr().err == ""  # Dagster's console is silent; the caller prints genolake's line

    result = cli._materialize(Definitions(assets=[broken]), {}, None, instance)
    assert not result.success
    err = capsys.readouterr().err
    assert err.startswith("x unexpected error")
    assert "KeyError" in err and "Stack Trace:" in err and "return {}[\"no such key\"]" in err

    log = cli._run_log
    assert log.failed and log.path.parent == home / "logs" and log.path.name.startswith("run-")
    text = log.path.read_text()
    assert text.count("=== run ") == 2 and "refused: genolake says why" in text and "KeyError" in text
    log.close()
    shown = capsys.readouterr().err.strip()
    assert shown == f"full log: {log.path} (the Dagster UI, `genolake dev`, shows these runs too)"
