"""`make demo-aws`'s flow against a moto server: the same demo files through the aws mode (S3 landing bucket,
s3_landing_sensor, S3 raw zone, Iceberg tables in Glue with data on S3, local Spark) give the same tables, row
by row, as the local mode.

Columns that name where a file came from differ by design (a landing path locally, an s3:// key here) and are
compared by file name (partition keys without their location hash); the report's ``input_snapshots`` are snapshot ids of different catalogs and are compared
by the tables they name. Everything else must be equal."""

import os
import re
import subprocess
import sys

import pytest

from genolake_assets.aws_demo import demo_environment
from genolake_assets.transforms.tables import TABLES
from resources.aws import client
from resources.lakehouse import Lakehouse

from ..conftest import DEMO_COHORT, DEMO_FILES, ROOT, cli_env
from ..e2e.test_demo_checks import check_failures

pytestmark = pytest.mark.slow
FILES = [str(path) for path in DEMO_FILES]
KEYED = ("source_file", "release", "clinvar_release")


_env = cli_env


def _genolake(*args, env):
    done = subprocess.run([sys.executable, "-m", "genolake_assets.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return done


def _rows(lakehouse: Lakehouse, name: str) -> list[dict]:
    commit_set = lakehouse.current_set()
    data = lakehouse.read(name, commit_set.snapshot(name))
    rows = []
    for row in data.to_pylist():
        for column in KEYED:  # partition keys end in a hash of where the file landed (a path here, an S3 URI there)
            if row.get(column):
                row[column] = re.sub(r"-[0-9a-f]{8}$", "-<hash>", row[column])
        if "source_path" in row:
            row["source_path"] = row["source_path"].rsplit("/", 1)[-1]
        if "input_snapshots" in row:
            row["input_snapshots"] = sorted(k for k, _ in (row["input_snapshots"] or []))
        rows.append(row)
    return sorted(rows, key=lambda r: repr(sorted(r.items())))


def test_demo_aws_tables_equal_local_mode(aws, demo_home, tmp_path, monkeypatch):
    local_home, aws_home = demo_home[0], tmp_path / "aws"  # the local demo (tests/conftest.py), shared
    # make demo-aws passes the demo's cohort as the setting (the default cohort is every sample)
    shown = _genolake("demo-aws", "--endpoint", aws, *FILES, env=_env(aws_home, {"GENOLAKE_REPORT_COHORT": DEMO_COHORT}))
    assert "s3_landing_sensor" in shown.stderr or "ok" in shown.stderr
    assert "(19 rows)" in shown.stdout  # the report printed, as in `make demo`
    assert "ok governance/permissions: 14 grants for 3 roles (aws;" in shown.stderr
    failed, missing, _ = check_failures(aws_home / "dagster")  # every check passes in aws mode too
    assert not failed and not missing, (failed, missing)

    for name, value in demo_environment(aws).items():
        monkeypatch.setenv(name, value)
    glue = Lakehouse.glue(os.environ["GENOLAKE_WAREHOUSE_URI"], "genolake", "us-east-1")
    local = Lakehouse.local(str(local_home))
    # the tables really are in Glue, as Iceberg tables with their data on S3
    tables = {t["Name"]: t for t in client("glue").get_tables(DatabaseName="genolake")["TableList"]}
    assert set(TABLES) <= set(tables)
    assert all(tables[n]["Parameters"]["table_type"] == "ICEBERG" for n in TABLES)
    for name in TABLES:
        files = glue.files(name, glue.current_set().snapshot(name))
        assert files and all(f.path.startswith("s3://genolake-demo-warehouse/warehouse/") for f in files), name
        mine, theirs = _rows(glue, name), _rows(local, name)
        assert len(mine) == len(theirs) > 0, name
        assert mine == theirs, name
    # the policy is in force in Lake Formation (the emulator's copy, without row filters), and a second plan is empty
    granted = {p["Principal"]["DataLakePrincipalIdentifier"]
               for p in client("lakeformation").list_permissions()["PrincipalResourcePermissions"]}
    assert {f"arn:aws:iam::123456789012:role/genolake-{r}" for r in ("engineer", "clinical-analyst", "researcher")} \
        <= granted
    env = _env(aws_home, {**demo_environment(aws), "GENOLAKE_POLICY": str(aws_home / "policies.emulator.yaml")})
    assert _genolake("governance", "plan", env=env).stdout.strip() == "No changes."
    # landed objects were moved: the landing prefix is empty, the raw zone holds the copies
    s3 = client("s3")
    assert s3.list_objects_v2(Bucket="genolake-demo-landing", Prefix="incoming/").get("KeyCount", 0) == 0
    raw = [o["Key"] for o in s3.list_objects_v2(Bucket="genolake-demo-raw", Prefix="raw/")["Contents"]]
    assert sum(k.endswith((".vcf.gz", ".txt.gz")) for k in raw) == 3
