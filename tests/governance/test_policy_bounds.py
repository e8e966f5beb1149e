"""No policy file can hang or crash loading: non-UTF-8 bytes, row filters with ~1,000 ORs or 3,000 nested
parentheses, a YAML alias bomb, an oversize file and deeply nested YAML each give ONE short error line naming the
file within 2 seconds, through the library and through `genolake governance plan|apply` and `genolake query --role`
(exit 1, no traceback), and nothing is changed. The bounds are generous for real policies."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from genolake_assets.cli import app
from genolake_assets.transforms.tables import CALLS, TABLES
from governance.model import (
    MAX_FILTER_CHARS,
    MAX_FILTER_NESTING,
    MAX_FILTER_OPERATORS,
    MAX_POLICY_BYTES,
    MAX_YAML_DEPTH,
    POLICY_PATH,
    FilterError,
    PolicyError,
    load_policy,
    parse_row_filter,
)
from resources.governance import LocalGovernance
from resources.sql_views import DUCKDB_TYPES
from tests.conftest import ROOT, cli_env

GOOD = POLICY_PATH.read_text()
SHIPPED_FILTER = "row_filter: sample_id LIKE 'NA12%'"
SECONDS = 2.0  # the acceptance bound for each bad file
runner = CliRunner()


def with_filter(sql: str) -> str:
    """The shipped policy with the researcher's first row filter replaced by ``sql`` (a YAML double-quoted text)."""
    assert SHIPPED_FILTER in GOOD
    return GOOD.replace(SHIPPED_FILTER, f"row_filter: {json.dumps(sql)}", 1)


def billion_laughs() -> str:
    """The classic alias bomb: under 1 KB of YAML that expands to 9**9 (387 million) strings."""
    lines = ["version: 1", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    lines += ["roles:", "  engineer: *a8", ""]
    return "\n".join(lines)


# kind -> (the file's bytes, a part of the message saying what is wrong)
BAD: dict[str, tuple[bytes, str]] = {
    "latin1": (GOOD.replace("Data engineers", "Data engineers (équipe)").encode("latin-1"),
               "not UTF-8 text (byte 0xe9 at offset"),
    "utf16_bom": (GOOD.encode("utf-16"), "not UTF-8 text (byte 0xff at offset 0 (a UTF-16 byte-order mark))"),
    "binary": (random.Random(20240601).randbytes(4096), "not UTF-8 text (byte 0x"),
    "ors_1000": (with_filter(" OR ".join(f"sample_id = 'NA{i:05d}'" for i in range(1001))).encode(),
                 f"characters long; expected at most {MAX_FILTER_CHARS}"),
    "ors_short_300": (with_filter(" OR ".join(f"dp = {i}" for i in range(300))).encode(),
                      f"has more than {MAX_FILTER_OPERATORS} operators"),
    "parens_3000": (with_filter("(" * 3000 + "sample_id LIKE 'NA12%'" + ")" * 3000).encode(),
                    f"characters long; expected at most {MAX_FILTER_CHARS}"),
    "parens_100": (with_filter("(" * 100 + "dp = 1" + ")" * 100).encode(),
                   f"nests more than {MAX_FILTER_NESTING} levels deep"),
    "nots_500": (with_filter("NOT " * 500 + "dp = 1").encode(), f"nests more than {MAX_FILTER_NESTING} levels deep"),
    "alias_bomb": (billion_laughs().encode(), "YAML anchor &a0 is not allowed"),
    "oversize": ((GOOD + "# " + "x" * MAX_POLICY_BYTES + "\n").encode(), f"at most {MAX_POLICY_BYTES // 1024} KiB"),
    "nested_lists": (("version: 1\nroles: " + "[" * 100_000 + "]" * 100_000 + "\n").encode(),
                     f"values nested more than {MAX_YAML_DEPTH} deep"),
    "nested_block": (("version: 1\nroles:\n" + "".join("  " * i + "- \n" for i in range(1, 200))).encode(),
                     f"values nested more than {MAX_YAML_DEPTH} deep"),
}
ISSUE_KINDS = ["latin1", "utf16_bom", "binary", "ors_1000", "parens_3000", "alias_bomb", "oversize", "nested_lists"]


def write_bad(directory: Path, kind: str) -> Path:
    path = directory / f"bad_{kind}.yaml"
    path.write_bytes(BAD[kind][0])
    return path


def assert_one_short_line(message: str, path: Path) -> None:
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(f"{path}: "), message
    assert "expected" in message, message
    assert len(message) < 500, (len(message), message[:600])
    assert "Traceback" not in message and "RecursionError" not in message, message


# ------------------------------------------------------------------------------------------------------ library


def test_the_alias_bomb_is_small():
    assert len(billion_laughs().encode()) < 1024


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_policy_is_one_short_error_within_two_seconds(tmp_path, kind):
    path = write_bad(tmp_path, kind)
    started = time.monotonic()
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    elapsed = time.monotonic() - started
    assert elapsed < SECONDS, f"{kind}: {elapsed:.2f}s"
    message = str(info.value)
    assert_one_short_line(message, path)
    assert BAD[kind][1] in message, message


def test_aliases_are_refused_even_when_harmless(tmp_path):
    path = tmp_path / "alias.yaml"
    path.write_text(GOOD.replace("database: genolake", "database: *name"))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert_one_short_line(str(info.value), path)
    line = GOOD[:GOOD.index("database: genolake")].count("\n") + 1
    assert f"line {line}, column 11: YAML alias *name is not allowed" in str(info.value)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert set(load_policy(path).roles) == {"engineer", "clinical_analyst", "researcher"}


def test_utf16_without_a_byte_order_mark_is_refused(tmp_path):
    path = tmp_path / "utf16le.yaml"
    path.write_bytes(GOOD.encode("utf-16-le"))
    with pytest.raises(PolicyError, match=r"not UTF-8 text \(byte 0x00 at offset 1: binary or UTF-16\)"):
        load_policy(path)


def test_a_device_without_a_size_is_read_only_up_to_the_cap():
    started = time.monotonic()
    with pytest.raises(PolicyError, match=f"more than {MAX_POLICY_BYTES} bytes"):
        load_policy("/dev/zero")
    assert time.monotonic() - started < SECONDS


def test_messages_excerpt_long_inputs(tmp_path):
    """Role names, values and row filters are shown cut short, with their length."""
    long_role = "r" * 100_000  # a valid role name (an explicit YAML key has no length limit)
    text = GOOD.replace("  researcher:\n    principal: arn:aws:iam::123456789012:role/genolake-researcher",
                        f"  ? {long_role}\n  :\n    principal: not-an-arn-{'x' * 50_000}")
    path = tmp_path / "long.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert_one_short_line(message, path)
    assert "...(100000 chars)" in message and "...(50011 chars)" in message, message

    description = "description: >-\n      Data engineers who run and repair the pipelines"
    assert description in GOOD
    path.write_text(GOOD.replace(description, "description: [" + ", ".join(["lol"] * 5_000) + "]\n    #"))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert_one_short_line(str(info.value), path)
    assert "'description' is invalid (got ['lol', 'lol', 'lol', 'lol', ...])" in str(info.value)

    far = "sample_id IN (" + ", ".join(f"'NA{i:05d}'" for i in range(300)) + ") AND nope = 1"  # the bad part last
    path.write_text(with_filter(far))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert_one_short_line(str(info.value), path)
    assert f"...({len(far)} chars): unknown column 'nope'" in str(info.value)


def test_bounds_are_generous_for_real_filters():
    nested = "lower(" * (MAX_FILTER_NESTING - 1) + "sample_id" + ")" * (MAX_FILTER_NESTING - 1) + " LIKE 'na12%'"
    for sql in (nested,
                "(" * MAX_FILTER_NESTING + "dp = 1" + ")" * MAX_FILTER_NESTING,
                " OR ".join(f"dp = {i}" for i in range(MAX_FILTER_OPERATORS // 2)),  # 199 operators
                "sample_id IN (" + ", ".join(f"'NA{i:05d}'" for i in range(370)) + ")",  # 4,068 characters
                "NOT (dp >= 10 AND NOT gq < 20) OR NOT phased = FALSE AND alt_index <> -1",
                "start BETWEEN 100 AND 200 AND allele2 IS NOT NULL AND sample_id NOT LIKE 'HG%'"):
        assert len(sql) <= MAX_FILTER_CHARS
        parse_row_filter(sql, CALLS)
    with pytest.raises(FilterError, match=f"nests more than {MAX_FILTER_NESTING} levels deep"):
        parse_row_filter("(" * (MAX_FILTER_NESTING + 1) + "dp = 1" + ")" * (MAX_FILTER_NESTING + 1), CALLS)
    with pytest.raises(FilterError, match=f"more than {MAX_FILTER_OPERATORS} operators"):
        parse_row_filter(" OR ".join(f"dp = {i}" for i in range(MAX_FILTER_OPERATORS // 2 + 1)), CALLS)


# ------------------------------------------------------------------------------------------- state unchanged


@pytest.fixture
def catalog_home(home) -> Path:
    """A GENOLAKE_HOME whose query.duckdb has every contract table (empty), with the shipped policy applied."""
    home.mkdir(parents=True)
    con = duckdb.connect(str(home / "query.duckdb"))
    con.execute("CREATE SCHEMA genolake")
    for table in TABLES.values():
        columns = ", ".join(f'"{c.name}" {DUCKDB_TYPES[c.type]}' for c in table.all_columns)
        con.execute(f"CREATE TABLE genolake.{table.name} ({columns})")
    con.close()
    assert not LocalGovernance(home=str(home)).apply(POLICY_PATH).empty
    assert LocalGovernance(home=str(home)).plan(POLICY_PATH)[0].empty
    return home


def snapshot(home: Path) -> dict:
    """Every file of the home: its bytes and modification time."""
    return {str(p.relative_to(home)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(home.rglob("*")) if p.is_file() and "dagster" not in p.parts}


def test_a_bad_policy_changes_nothing(catalog_home, tmp_path):
    governance = LocalGovernance(home=str(catalog_home))
    before, grants = snapshot(catalog_home), governance.actual()
    for kind in BAD:
        with pytest.raises(PolicyError):
            governance.apply(write_bad(tmp_path, kind))
    assert snapshot(catalog_home) == before
    assert governance.actual() == grants and governance.plan(POLICY_PATH)[0].empty


# ----------------------------------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize("command", ["plan", "apply", "query"])
def test_cli_prints_one_error_line_and_exits_1(catalog_home, tmp_path, command):
    before = snapshot(catalog_home)
    for kind in BAD:
        path = write_bad(tmp_path, kind)
        args = (["governance", command, "--target", "local", "--policy", str(path)] if command != "query" else
                ["query", "--role", "researcher", "--policy", str(path), "SELECT count(*) FROM genolake.calls"])
        started = time.monotonic()
        result = runner.invoke(app, args)
        elapsed = time.monotonic() - started
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (kind, result.output[-3000:])
        assert elapsed < SECONDS, f"{command} {kind}: {elapsed:.2f}s"
        output = result.output.strip()
        assert_one_short_line(output, path)
        assert BAD[kind][1] in output, output
    assert snapshot(catalog_home) == before
    assert runner.invoke(app, ["governance", "plan", "--target", "local"]).output.strip() == "No changes."


def test_genolake_subprocess_exits_1_without_a_traceback(catalog_home, tmp_path):
    """The real entry point (a process starts Python: ~1.5 s), for three of the issue's files and each command:
    exit 1, one line on stderr, nothing on stdout, no traceback, nothing changed."""
    before = snapshot(catalog_home)
    runs = {("alias_bomb", "apply"): ["governance", "apply", "--target", "local"],
            ("parens_3000", "plan"): ["governance", "plan", "--target", "local"],
            ("latin1", "query"): ["query", "--role", "researcher", "SELECT count(*) FROM genolake.calls"]}
    started = time.monotonic()
    processes = {}
    for (kind, command), args in runs.items():
        path = write_bad(tmp_path, kind)
        processes[kind, command] = path, subprocess.Popen(
            [sys.executable, "-m", "genolake_assets.cli", *args, "--policy", str(path)], cwd=ROOT,
            env=cli_env(catalog_home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for (kind, command), (path, process) in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 1, (kind, command, stdout[-2000:], stderr[-3000:])
        assert stdout == "", (kind, command, stdout[-2000:])
        assert_one_short_line(stderr.strip(), path)
        assert BAD[kind][1] in stderr, stderr
    assert time.monotonic() - started < 30  # three Python start-ups, not a hang
    assert snapshot(catalog_home) == before
