"""Local enforcement (per-role views, role-scoped queries) on a real DuckDB catalog built from the contracts, the
governance asset check, and the two targets compiled from one model: the local views and Lake Formation (moto)
end up holding the same grants for every role.

The catalog here is a small one made from the table contracts (no Spark): ``genolake.<table>`` tables with every
contract column and a handful of rows, exactly the names the real views carry. The demo data path is covered by
tests/e2e/test_governance_cli.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from genolake_assets.transforms.tables import TABLES
from governance.compile import compile_policy
from governance.local import GovernanceDenied, explain_denied, scope_query
from governance.model import load_policy
from resources.governance import DEFAULT_POLICY, LakeFormationGovernance, LocalGovernance
from resources.sql_views import DUCKDB_TYPES

SAMPLES = ["NA12878", "NA12891", "HG00096", "HG00097", "NA19238"]
COLUMNS_OF = {name: t.column_names for name, t in TABLES.items()}


def _value(column, i: int, sample: str):
    if column.name == "sample_id":
        return sample
    if column.name in ("source_path",):
        return f"/landing/file{i}.vcf.gz"
    kind = column.type
    if kind == "string":
        return f"{column.name}-{i}"
    if kind in ("bigint", "int", "smallint", "tinyint"):
        return i
    if kind in ("double", "float"):
        return i / 10
    if kind == "boolean":
        return i % 2 == 0
    return None


@pytest.fixture
def home(tmp_path) -> Path:
    """A home whose query.duckdb has every contract table with 5 rows (one per sample)."""
    con = duckdb.connect(str(tmp_path / "query.duckdb"))
    con.execute("CREATE SCHEMA genolake")
    for table in TABLES.values():
        columns = ", ".join(f'"{c.name}" {DUCKDB_TYPES[c.type]}' for c in table.all_columns)
        con.execute(f"CREATE TABLE genolake.{table.name} ({columns})")
        for i, sample in enumerate(SAMPLES):
            con.execute(f"INSERT INTO genolake.{table.name} VALUES ({', '.join('?' for _ in table.all_columns)})",
                        [_value(c, i, sample) for c in table.all_columns])
    con.close()
    return tmp_path


def _query(home: Path, sql: str, role: str, grants) -> list[dict]:
    con = duckdb.connect(str(home / "query.duckdb"), read_only=True)
    try:
        return con.sql(scope_query(sql, role, grants, TABLES)).to_arrow_table().to_pylist()
    finally:
        con.close()


def test_apply_then_plan_is_empty_and_every_role_sees_exactly_its_grants(home):
    governance = LocalGovernance(home=str(home))
    plan, desired = governance.plan()
    assert plan.counts()["add"] == len(desired) > 0
    assert governance.apply().counts() == plan.counts()
    assert governance.plan()[0].empty and governance.apply().empty  # second apply: nothing to do
    grants = governance.actual()
    assert grants == desired  # what the views enforce, read back from the views, is what was declared
    con = duckdb.connect(str(home / "query.duckdb"), read_only=True)
    for grant in desired:  # the persistent per-role views hold exactly the declared columns
        shown = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = ? "
                                           "AND table_name = ?", [f"role_{grant.role}", grant.table]).fetchall()]
        assert sorted(shown) == sorted(grant.columns or COLUMNS_OF[grant.table]), grant
    con.close()

    researcher = _query(home, "SELECT * FROM genolake.samples ORDER BY sample_id", "researcher", grants)
    assert [r["sample_id"] for r in researcher] == ["NA12878", "NA12891"]  # the consented cohort only
    assert "source_path" not in researcher[0] and set(researcher[0]) == {"sample_id", "sample_index", "source_file"}
    assert len(_query(home, "SELECT * FROM genolake.calls", "researcher", grants)) == 2
    everything = _query(home, "SELECT * FROM genolake.samples", "engineer", grants)
    assert len(everything) == 5 and set(everything[0]) == set(COLUMNS_OF["samples"])
    analyst = _query(home, "SELECT * FROM genolake.annotated_variants", "clinical_analyst", grants)
    assert len(analyst) == 5 and "source_file" not in analyst[0]  # classification identifier: hidden


def test_what_a_role_may_not_do_is_refused_by_name(home):
    governance = LocalGovernance(home=str(home))
    governance.apply()
    grants = governance.actual()
    with pytest.raises(GovernanceDenied, match="role 'researcher' has no SELECT grant on genolake.sites"):
        scope_query("SELECT * FROM genolake.sites", "researcher", grants, TABLES)
    with pytest.raises(GovernanceDenied, match="unknown role 'auditor'"):
        scope_query("SELECT 1", "auditor", grants, TABLES)  # never full access
    for sql in ("SELECT * FROM read_parquet('/tmp/x.parquet')", "SELECT * FROM _catalog.tables",
                "SELECT * FROM role_engineer.samples", "DELETE FROM genolake.samples",
                "SELECT 1; SELECT * FROM genolake.sites"):
        with pytest.raises(GovernanceDenied):
            scope_query(sql, "researcher", grants, TABLES)
    with pytest.raises(duckdb.Error) as hidden:
        _query(home, "SELECT source_path FROM genolake.samples", "researcher", grants)
    said = explain_denied(hidden.value, "researcher", grants, COLUMNS_OF)
    assert said.startswith("role 'researcher' may not see column 'source_path' of genolake.samples")


def test_a_policy_changed_between_two_applies_and_drift_by_hand(home, tmp_path):
    governance = LocalGovernance(home=str(home))
    governance.apply()
    changed = tmp_path / "policies.yaml"
    shutil.copy(DEFAULT_POLICY, changed)
    text = changed.read_text().replace("sample_id LIKE 'NA12%'", "sample_id LIKE 'HG%'")
    text = text.replace("      - table: clinvar\n        exclude_classifications: [identifier]\n", "")
    changed.write_text(text)
    plan, _ = governance.plan(changed)
    assert sorted((c.action, c.grant.role, c.grant.table) for c in plan.changes) == [
        ("change", "researcher", "calls"), ("change", "researcher", "sample_qc"),
        ("change", "researcher", "samples"), ("revoke", "clinical_analyst", "clinvar")]
    governance.apply(changed)
    grants = governance.actual()
    assert [r["sample_id"] for r in _query(home, "SELECT sample_id FROM genolake.samples ORDER BY 1", "researcher",
                                           grants)] == ["HG00096", "HG00097"]
    with pytest.raises(GovernanceDenied, match="no SELECT grant on genolake.clinvar"):
        scope_query("SELECT * FROM genolake.clinvar", "clinical_analyst", grants, TABLES)

    # by hand: a view the policy never declared, and a widened row filter; the check fails, apply puts it back
    from genolake_assets.layers.governance import matches_policy

    con = duckdb.connect(str(home / "query.duckdb"))
    con.execute("CREATE VIEW role_researcher.sites AS SELECT * FROM genolake.sites")
    con.execute("CREATE OR REPLACE VIEW role_researcher.calls AS SELECT * FROM genolake.calls")
    con.close()
    plan, _ = governance.plan(changed)
    assert sorted((c.action, c.grant.table) for c in plan.changes) == [("change", "calls"), ("revoke", "sites")]
    import os

    os.environ["GENOLAKE_POLICY"] = str(changed)
    try:
        assert not matches_policy(governance=governance).passed
        governance.apply(changed)
        assert matches_policy(governance=governance).passed
    finally:
        del os.environ["GENOLAKE_POLICY"]
    assert governance.plan(changed)[0].empty


def test_both_targets_are_compiled_from_one_model():
    policy = load_policy(DEFAULT_POLICY)
    local, aws = compile_policy(policy, "local"), compile_policy(policy, "aws")
    arn = {role: spec.principal for role, spec in policy.roles.items()}
    assert len(local) == len(aws)
    for a, b in zip(sorted(local, key=lambda g: (g.role, g.table)), sorted(aws, key=lambda g: (g.role, g.table))):
        assert (a.role, a.table, a.permissions, a.columns, a.row_filter) == \
            (b.role, b.table, b.permissions, b.columns, b.row_filter)
        assert a.principal == a.role and b.principal == arn[b.role]


@pytest.fixture
def lake(monkeypatch, tmp_path):
    """moto Lake Formation + Glue with the contract tables (no IAM_ALLOWED_PRINCIPALS defaults)."""
    from moto import mock_aws

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GLUE", "AWS_ENDPOINT_URL_LAKEFORMATION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with mock_aws():
        import boto3

        glue = boto3.client("glue", region_name="us-east-1")
        glue.create_database(DatabaseInput={"Name": "genolake"})
        for table in TABLES.values():
            glue.create_table(DatabaseName="genolake", TableInput={
                "Name": table.name, "TableType": "EXTERNAL_TABLE",
                "StorageDescriptor": {"Columns": [{"Name": c.name, "Type": c.type} for c in table.all_columns],
                                      "Location": f"s3://lake/{table.name}/"}})
        lf = boto3.client("lakeformation", region_name="us-east-1")
        lf.put_data_lake_settings(DataLakeSettings={"DataLakeAdmins": [], "CreateDatabaseDefaultPermissions": [],
                                                    "CreateTableDefaultPermissions": []})
        yield lf


def test_lake_formation_and_the_local_views_hold_the_same_grants(home, lake, tmp_path):
    """Apply one policy to both targets; read each back; the same roles see the same tables, columns and rows.
    (The policy drops the row filters: moto has no data cells filters; those calls are Stubber-tested in
    test_lakeformation.py.) A grant added by hand and an IAM_ALLOWED_PRINCIPALS grant are revoked by apply."""
    policy = tmp_path / "policies.yaml"
    policy.write_text("\n".join(line for line in DEFAULT_POLICY.read_text().splitlines()
                                if "row_filter:" not in line) + "\n")
    cloud, local = LakeFormationGovernance(database="genolake", region="us-east-1"), LocalGovernance(home=str(home))
    lake.grant_permissions(Principal={"DataLakePrincipalIdentifier": "arn:aws:iam::123456789012:role/by-hand"},
                           Resource={"Table": {"DatabaseName": "genolake", "Name": "samples"}}, Permissions=["SELECT"])
    lake.grant_permissions(Principal={"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
                           Resource={"Table": {"DatabaseName": "genolake", "Name": "calls"}}, Permissions=["ALL"])
    plan, _ = cloud.plan(policy)
    assert [c.grant.principal for c in plan.changes if c.action == "revoke"] == [
        "arn:aws:iam::123456789012:role/by-hand"]
    assert any("IAM_ALLOWED_PRINCIPALS" in n for n in plan.notes)
    cloud.apply(policy)
    local.apply(policy)
    assert cloud.plan(policy)[0].empty and local.plan(policy)[0].empty
    roles = {spec.principal: role for role, spec in load_policy(policy).roles.items()}
    seen_in_aws = {(roles[g.principal], g.table, g.columns, g.row_filter, g.permissions) for g in cloud.actual()}
    seen_locally = {(g.role, g.table, g.columns, g.row_filter, g.permissions) for g in local.actual()}
    assert seen_in_aws == seen_locally and len(seen_locally) == 14
    principals = {p["Principal"]["DataLakePrincipalIdentifier"] for p in lake.list_permissions()[
        "PrincipalResourcePermissions"]}
    assert "IAM_ALLOWED_PRINCIPALS" not in principals and "arn:aws:iam::123456789012:role/by-hand" not in principals
