"""Policy -> grants for local and aws, and desired vs actual grants -> plan -> text."""

import dataclasses

import duckdb
import pytest
import yaml

from genolake_assets.transforms.tables import ANNOTATED_VARIANTS, TABLES, C
from governance.compile import classified_columns, compile_policy, visible
from governance.grants import Change, Grant, Plan
from governance.model import POLICY_PATH, PolicyError, load_policy
from governance.plan import diff, render

IDENTIFIERS = {("calls", "sample_id"), ("samples", "sample_id"), ("samples", "source_path"),
               ("sites", "source_file"), ("calls", "source_file"), ("samples", "source_file"),
               ("annotated_variants", "source_file")}


@pytest.fixture(scope="module")
def policy():
    return load_policy(POLICY_PATH)


def load(tmp_path, roles):
    path = tmp_path / "policies.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "database": "genolake", "roles": roles}, sort_keys=False))
    return load_policy(path)


def role(name, *grants):
    return {name: {"principal": f"arn:aws:iam::123456789012:role/{name}", "grants": list(grants)}}


# -------------------------------------------------------------------------------------------------- compile


def test_local_and_aws_differ_only_in_principals(policy):
    local, aws = compile_policy(policy, "local"), compile_policy(policy, "aws")
    assert {g.principal for g in local} == {"engineer", "clinical_analyst", "researcher"}
    arns = {name: r.principal for name, r in policy.roles.items()}
    assert {g.principal for g in aws} == set(arns.values())
    assert all(g.principal == arns[g.role] for g in aws)
    assert sorted(dataclasses.replace(g, principal=g.role) for g in aws) == sorted(local)
    assert len(local) == 8 + 3 + 3  # engineer: every table; clinical_analyst: 3; researcher: 3
    assert local == sorted(local, key=lambda g: g.key)


def test_engineer_sees_everything(policy):
    grants = [g for g in compile_policy(policy, "local") if g.role == "engineer"]
    assert {g.table for g in grants} == set(TABLES)
    assert all(g.columns is None and g.row_filter is None and g.permissions == ("DESCRIBE", "SELECT")
               for g in grants)


def test_clinical_analyst_sees_no_identifier_column(policy):
    grants = [g for g in compile_policy(policy, "aws") if g.role == "clinical_analyst"]
    assert {g.table for g in grants} == {"annotated_variants", "clinvar", "drug_response_report"}
    for grant in grants:
        shown = set(TABLES[grant.table].column_names if grant.columns is None else grant.columns)
        assert not {(grant.table, c) for c in shown} & IDENTIFIERS
        assert grant.row_filter is None


def test_exclude_classifications_hides_identifier_columns(tmp_path):
    policy = load(tmp_path, role("analyst", {"table": "samples", "exclude_classifications": ["identifier"]},
                                 {"table": "calls", "exclude_classifications": ["identifier"]}))
    grants = {g.table: g for g in compile_policy(policy, "local")}
    assert grants["samples"].columns == ("sample_index",)
    assert "sample_id" not in grants["calls"].columns
    assert set(grants["calls"].columns) == set(TABLES["calls"].column_names) - {"sample_id", "source_file"}


def test_a_column_classified_later_stays_hidden_without_editing_the_policy(policy):
    before = {g.key: g for g in compile_policy(policy, "local")}
    assert set(before[("clinical_analyst", "genolake", "annotated_variants")].columns) == \
        set(ANNOTATED_VARIANTS.column_names) - {"source_file"}
    # The contract gains a new identifier column and an existing column is classified identifier later.
    changed = dataclasses.replace(
        ANNOTATED_VARIANTS,
        columns=tuple(dataclasses.replace(c, classification="identifier") if c.name == "vcf_rsid" else c
                      for c in ANNOTATED_VARIANTS.columns)
        + (C("sample_id", "string", "Carrier sample", classification="identifier"),))
    tables = {**TABLES, "annotated_variants": changed}
    after = {g.key: g for g in compile_policy(policy, "local", tables=tables)}
    analyst = after[("clinical_analyst", "genolake", "annotated_variants")]
    assert analyst.columns is not None
    assert "sample_id" not in analyst.columns and "vcf_rsid" not in analyst.columns
    assert set(analyst.columns) == set(changed.column_names) - {"sample_id", "vcf_rsid", "source_file"}
    assert after[("engineer", "genolake", "annotated_variants")].columns is None  # the engineer still sees all
    plan = diff(list(after.values()), list(before.values()))
    assert [(c.action, c.grant.key) for c in plan.changes] == [
        ("change", ("clinical_analyst", "genolake", "annotated_variants"))]


def test_researcher_rows_and_columns(policy):
    grants = {g.table: g for g in compile_policy(policy, "local") if g.role == "researcher"}
    assert set(grants) == {"calls", "samples", "sample_qc"}
    assert grants["calls"].columns is None and grants["sample_qc"].columns is None
    assert grants["calls"].row_filter == "sample_id LIKE 'NA12%'"
    assert grants["samples"].columns == ("sample_id", "sample_index", "source_file")  # no source_path
    assert grants["samples"].row_filter == "sample_id LIKE 'NA12%'"
    assert grants["sample_qc"].row_filter == "sample_id LIKE 'NA12%'"


def test_row_filters_are_normalised(tmp_path):
    policy = load(tmp_path, role("researcher",
                                 {"table": "calls", "row_filter": "calls.SAMPLE_ID  like   'NA12%'"},
                                 {"table": "samples", "row_filter": "sample_id not in ('HG00096','HG00097')"}))
    grants = {g.table: g for g in compile_policy(policy, "aws")}
    assert grants["calls"].row_filter == "sample_id LIKE 'NA12%'"
    assert grants["samples"].row_filter == "NOT sample_id IN ('HG00096', 'HG00097')"


def test_researcher_filter_keeps_only_the_cohort_in_duckdb(policy):
    grant = visible(compile_policy(policy, "local"), "researcher", "calls")
    con = duckdb.connect()
    con.execute("CREATE TABLE calls AS SELECT * FROM (VALUES ('HG00096'), ('HG00097'), ('NA12878'), "
                "('NA12891'), ('NA12892')) t(sample_id)")
    rows = con.execute(f"SELECT sample_id FROM calls WHERE {grant.row_filter} ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == ["NA12878", "NA12891", "NA12892"]


def test_column_lists(tmp_path):
    every = TABLES["samples"].column_names
    policy = load(tmp_path, role("r", {"table": "samples", "columns": list(reversed(every))},
                                 {"table": "calls", "columns": ["sample_id", "dp", "alt"]},
                                 {"table": "sites", "exclude_columns": []}))
    grants = {g.table: g for g in compile_policy(policy, "local")}
    assert grants["samples"].columns is None  # every column, partition columns included: a wildcard
    assert grants["calls"].columns == ("alt", "dp", "sample_id")
    assert grants["sites"].columns is None


def test_permissions_and_database(tmp_path):
    policy = load(tmp_path, role("r", {"table": "sites", "permissions": ["DESCRIBE"]}))
    (grant,) = compile_policy(policy, "aws", database="genolake_prod")
    assert grant == Grant("arn:aws:iam::123456789012:role/r", "genolake_prod", "sites", ("DESCRIBE",))
    assert grant.role == "r"


def test_aws_refuses_filters_lake_formation_cannot_enforce(tmp_path):
    policy = load(tmp_path, role("researcher", {"table": "calls", "row_filter": "lower(sample_id) LIKE 'na12%'"}))
    (grant,) = compile_policy(policy, "local")
    assert grant.row_filter == "LOWER(sample_id) LIKE 'na12%'"
    with pytest.raises(PolicyError) as info:
        compile_policy(policy, "aws")
    message = str(info.value)
    for part in (str(tmp_path / "policies.yaml"), "role 'researcher'", "grant #1 (table 'calls')",
                 "allows no functions", "(target aws)"):
        assert part in message, message


def test_compile_checks_the_policy_against_the_given_contracts(policy):
    tables = {name: t for name, t in TABLES.items() if name != "clinvar"}
    with pytest.raises(PolicyError, match=r"role 'engineer', grant #4 \(table 'clinvar'\): unknown table"):
        compile_policy(policy, "local", tables=tables)


def test_unknown_target(policy):
    with pytest.raises(ValueError, match="unknown target 'gcp'; expected one of local, aws"):
        compile_policy(policy, "gcp")


def test_classified_columns():
    classified = classified_columns()
    assert set(classified) == set(TABLES)
    assert classified["samples"] == {"sample_id": "identifier", "source_path": "identifier",
                                     "source_file": "identifier"}
    assert classified["calls"] == {"sample_id": "identifier", "source_file": "identifier"}
    assert classified["sites"] == {"source_file": "identifier"}
    assert classified["clinvar"] == {}


def test_visible(policy):
    grants = compile_policy(policy, "aws")
    assert visible(grants, "researcher", "sites") is None
    assert visible(grants, "researcher", "calls").row_filter == "sample_id LIKE 'NA12%'"
    assert visible(grants, "arn:aws:iam::123456789012:role/genolake-engineer", "sites").columns is None


# ----------------------------------------------------------------------------------------------------- plan

A = Grant("analyst", "genolake", "clinvar", role="analyst")
B = Grant("analyst", "genolake", "samples", columns=("sample_index", "source_file"), role="analyst")
R = Grant("researcher", "genolake", "calls", row_filter="sample_id LIKE 'NA12%'", role="researcher")


def test_diff_add_revoke_change_and_no_op():
    changed_b = dataclasses.replace(B, columns=("sample_index",))
    changed_r = dataclasses.replace(R, permissions=("SELECT",), row_filter=None)
    plan = diff(desired=[changed_b, changed_r, A], actual=[R, B, Grant("old", "genolake", "sites")])
    assert [(c.action, c.grant.key) for c in plan.changes] == [
        ("add", A.key), ("change", B.key), ("revoke", ("old", "genolake", "sites")), ("change", R.key)]
    change_b = plan.changes[1]
    assert change_b.before == B and change_b.after == changed_b
    assert plan.counts() == {"add": 1, "change": 2, "revoke": 1}
    assert diff([A, B, R], [R, A, B]).empty
    assert diff([A], [dataclasses.replace(A, role="")]).empty  # the role is for messages, not identity


def test_diff_notes_and_duplicates():
    plan = diff([A], [A], notes=["IAM_ALLOWED_PRINCIPALS has Super on genolake"], info=["admin: x"])
    assert plan.changes == [] and plan.notes == ["IAM_ALLOWED_PRINCIPALS has Super on genolake"]
    assert plan.info == ["admin: x"]
    assert not plan.empty  # a note is something apply fixes
    assert diff([A], [A], info=["admin: x"]).empty
    with pytest.raises(ValueError, match="two desired grants"):
        diff([A, dataclasses.replace(A, columns=("name",))], [])


def test_render_no_changes():
    assert render(diff([A, R], [A, R])) == "No changes."
    assert render(Plan()) == "No changes."


def test_render_changes_notes_and_summary():
    plan = diff(desired=[A, dataclasses.replace(B, columns=("sample_index",)),
                         dataclasses.replace(R, principal="arn:aws:iam::1:role/r", row_filter="sample_id = 'x'")],
                actual=[B, dataclasses.replace(R, principal="arn:aws:iam::1:role/r"),
                        Grant("arn:aws:iam::1:role/gone", "genolake", "sites")],
                notes=["IAM_ALLOWED_PRINCIPALS keeps Lake Formation from being in force on genolake.sites"])
    assert render(plan) == """\
+ grant analyst on genolake.clinvar
    + permissions: DESCRIBE, SELECT
    + columns: all
    + rows: all

~ change analyst on genolake.samples
      permissions: DESCRIBE, SELECT
    ~ columns: sample_index, source_file -> sample_index (hides source_file)
      rows: all

- revoke arn:aws:iam::1:role/gone on genolake.sites
    - permissions: DESCRIBE, SELECT
    - columns: all
    - rows: all

~ change researcher (arn:aws:iam::1:role/r) on genolake.calls
      permissions: DESCRIBE, SELECT
      columns: all
    ~ rows: where sample_id LIKE 'NA12%' -> where sample_id = 'x'

Notes:
  ! IAM_ALLOWED_PRINCIPALS keeps Lake Formation from being in force on genolake.sites

Plan: 1 to add, 2 to change, 1 to revoke."""


def test_render_notes_only_is_not_no_changes():
    text = render(Plan(notes=["something to fix"]))
    assert text == "Notes:\n  ! something to fix\n\nPlan: 0 to add, 0 to change, 0 to revoke."


def test_render_info_never_blocks_no_changes():
    assert render(Plan(info=["lf-admin is a data lake administrator"])) == (
        "Info (left alone):\n  i lf-admin is a data lake administrator\n\nNo changes.")
    text = render(diff([A], [], notes=["fix me"], info=["fyi"]))
    assert text.endswith("Notes:\n  ! fix me\n\nInfo (left alone):\n  i fyi\n\n"
                         "Plan: 1 to add, 0 to change, 0 to revoke."), text


def test_render_columns_all_to_list():
    plan = Plan(changes=[Change("change", before=dataclasses.replace(B, columns=None), after=B)])
    assert "~ columns: all -> sample_index, source_file\n" in render(plan)
