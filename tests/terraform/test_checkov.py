"""checkov on terraform/ (in its own environment, .ci/checkov-venv: it pins boto3/botocore versions the app does not
use): no failed check, and every suppression carries its reason beside it."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from .conftest import CHECKOV_VENV, TERRAFORM_DIR

CHECKOV = CHECKOV_VENV / "bin" / "checkov"
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


@pytest.fixture(scope="module")
def report() -> dict:
    if not CHECKOV.exists():
        pytest.skip("checkov is not installed: `make checkov-env` creates .ci/checkov-venv (`make test` does it first)")
    result = subprocess.run(
        [str(CHECKOV), "--directory", str(TERRAFORM_DIR), "--framework", "terraform", "--skip-download",
         "--output", "json", "--skip-path", r"\.terraform"],
        capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                                                          "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"})
    assert result.returncode in (0, 1), result.stderr[-3000:]
    data = json.loads(result.stdout)
    reports = data if isinstance(data, list) else [data]
    assert [r["check_type"] for r in reports] == ["terraform"]
    return reports[0]


def test_no_failed_checks(report):
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]}): {c['check_name']}"
              for c in report["results"]["failed_checks"]]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    # it really scanned the configuration (the modules and their resources), not an empty directory
    assert summary["resource_count"] >= 60 and summary["passed"] >= 200, summary


def test_every_suppression_has_its_reason(report):
    skipped = report["results"]["skipped_checks"]
    unexplained = [f"{c['check_id']} {c['resource']}" for c in skipped
                   if not (c.get("check_result", {}).get("suppress_comment") or "").strip()
                   or c["check_result"]["suppress_comment"].strip() == "No comment provided"]
    assert not unexplained, f"suppressions without a reason: {unexplained}"
    for path in TERRAFORM_DIR.rglob("*.tf"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            found = SKIP_COMMENT.search(line)
            if found:
                assert len((found.group(2) or "").strip()) >= 20, \
                    f"{path.relative_to(TERRAFORM_DIR)}:{number}: `#checkov:skip={found.group(1)}` needs its reason after a colon"
