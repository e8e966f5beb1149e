"""The policy file: the shipped one loads; every invalid case gives ONE message naming the file, the role, the
grant and what was expected; row filters are parsed, checked and normalised."""

import copy
import re

import duckdb
import pytest
import yaml

from genolake_assets.transforms.tables import CALLS, TABLES
from governance.model import (
    POLICY_PATH,
    FilterError,
    PolicyError,
    load_policy,
    normalise_filter,
    parse_row_filter,
)

ARN = "arn:aws:iam::123456789012:role/genolake-{}"

BASE = {
    "version": 1,
    "database": "genolake",
    "roles": {
        "engineer": {"principal": ARN.format("engineer"), "description": "all",
                     "grants": [{"table": "sites"}, {"table": "calls"}]},
        "researcher": {"principal": ARN.format("researcher"), "description": "cohort",
                       "grants": [{"table": "samples", "exclude_columns": ["source_path"]},
                                  {"table": "calls", "row_filter": "sample_id LIKE 'NA12%'"}]},
    },
}


def write(tmp_path, data, name="policies.yaml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def researcher_grant(**changes):
    """BASE with the researcher's 2nd grant (table calls) changed; keys set to None are removed."""
    data = copy.deepcopy(BASE)
    grant = data["roles"]["researcher"]["grants"][1]
    for key, value in changes.items():
        if value is None:
            grant.pop(key, None)
        else:
            grant[key] = value
    return data


def error(tmp_path, data) -> tuple[str, str]:
    path = write(tmp_path, data)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert "\n" not in message, message  # one message
    return message, str(path)


def assert_names(message, path, *parts):
    assert message.startswith(f"{path}: "), message
    for part in parts:
        assert part in message, (part, message)
    assert "expected" in message, message


# ----------------------------------------------------------------------------------------------- shipped file


def test_shipped_policy_loads_with_three_roles():
    policy = load_policy(POLICY_PATH)
    assert policy.version == 1 and policy.database == "genolake"
    assert set(policy.roles) == {"engineer", "clinical_analyst", "researcher"}
    assert {g.table for g in policy.roles["engineer"].grants} == set(TABLES)
    assert {g.table for g in policy.roles["clinical_analyst"].grants} == {
        "annotated_variants", "drug_response_report", "clinvar"}
    assert all(g.exclude_classifications == ("identifier",) for g in policy.roles["clinical_analyst"].grants)
    researcher = {g.table: g for g in policy.roles["researcher"].grants}
    assert set(researcher) == {"calls", "samples", "sample_qc"}
    assert all(g.row_filter == "sample_id LIKE 'NA12%'" for g in researcher.values())
    assert researcher["samples"].exclude_columns == ("source_path",)
    assert all(re.match(r"^arn:aws:iam::\d{12}:role/", r.principal) for r in policy.roles.values())
    assert policy.source == str(POLICY_PATH)


def test_base_policy_is_valid(tmp_path):
    policy = load_policy(write(tmp_path, BASE))
    assert policy.roles["researcher"].grants[1].permissions == ("DESCRIBE", "SELECT")  # the default


def test_contracts_classify_sample_ids_and_source_paths_as_identifiers():
    classified = {(t.name, c.name) for t in TABLES.values() for c in t.all_columns if c.classification}
    assert classified == {("calls", "sample_id"), ("samples", "sample_id"), ("samples", "source_path"),
                          ("sites", "source_file"), ("calls", "source_file"), ("samples", "source_file"),
                          ("annotated_variants", "source_file"), ("variant_qc", "source_file"),
                          ("sample_qc", "source_file"), ("sample_qc", "sample_id")}
    assert all(c.classification == "identifier" for t in TABLES.values() for c in t.all_columns
               if c.classification)


# --------------------------------------------------------------------------------------------- invalid files


def test_unknown_table(tmp_path):
    message, path = error(tmp_path, researcher_grant(table="callz"))
    assert_names(message, path, "role 'researcher'", "grant #2", "table 'callz'", "unknown table 'callz'",
                 "expected one of annotated_variants, calls, clinvar")


def test_unknown_column_in_columns(tmp_path):
    message, path = error(tmp_path, researcher_grant(columns=["sample_id", "genotype"]))
    assert_names(message, path, "role 'researcher'", "grant #2", "table 'calls'",
                 "unknown column 'genotype' in columns", "expected a column of calls: start, ref")


def test_unknown_column_in_exclude_columns(tmp_path):
    message, path = error(tmp_path, researcher_grant(exclude_columns=["source_path"]))  # samples has it, calls not
    assert_names(message, path, "role 'researcher'", "grant #2", "table 'calls'",
                 "unknown column 'source_path' in exclude_columns", "expected a column of calls")


def test_unknown_column_in_row_filter(tmp_path):
    message, path = error(tmp_path, researcher_grant(row_filter="sample LIKE 'NA12%'"))
    assert_names(message, path, "role 'researcher'", "grant #2", "table 'calls'", "row_filter",
                 "unknown column 'sample'", "expected a column of calls")


def test_unknown_classification(tmp_path):
    message, path = error(tmp_path, researcher_grant(exclude_classifications=["pii"]))
    assert_names(message, path, "role 'researcher'", "grant #2", "table 'calls'",
                 "unknown classification 'pii' in exclude_classifications", "expected one of identifier")


def test_columns_and_exclude_columns_together(tmp_path):
    message, path = error(tmp_path, researcher_grant(columns=["sample_id"], exclude_columns=["dp"]))
    assert_names(message, path, "role 'researcher'", "grant #2", "table 'calls'",
                 "both 'columns' and 'exclude_columns'", "expected one of them")


def test_unknown_permission(tmp_path):
    message, path = error(tmp_path, researcher_grant(permissions=["SELECT", "INSERT"]))
    assert_names(message, path, "role 'researcher'", "grant #2", "table 'calls'",
                 "unknown permission 'INSERT'", "expected a subset of DESCRIBE, SELECT")


def test_no_permissions(tmp_path):
    message, path = error(tmp_path, researcher_grant(permissions=[]))
    assert_names(message, path, "role 'researcher'", "grant #2", "table 'calls'", "no permissions")


def test_yaml_that_does_not_parse(tmp_path):
    text = "version: 1\nroles:\n  engineer:\n    principal: [unclosed\n    grants: []\n"
    message, path = error(tmp_path, text)
    assert_names(message, path, "YAML does not parse", "line ", "expected a YAML mapping")


def test_yaml_duplicate_role_is_refused(tmp_path):
    text = yaml.safe_dump(BASE, sort_keys=False)
    text += "  engineer:\n    principal: arn:aws:iam::123456789012:role/other\n"
    message, path = error(tmp_path, text)
    assert_names(message, path, "duplicate key 'engineer'", "line ")


def test_role_without_principal(tmp_path):
    data = copy.deepcopy(BASE)
    del data["roles"]["researcher"]["principal"]
    message, path = error(tmp_path, data)
    assert_names(message, path, "role 'researcher'", "missing 'principal'", "expected an IAM role ARN")
    assert "grant #" not in message


def test_principal_that_is_not_a_role_arn(tmp_path):
    data = copy.deepcopy(BASE)
    data["roles"]["researcher"]["principal"] = "researcher"
    message, path = error(tmp_path, data)
    assert_names(message, path, "role 'researcher'", "not an IAM role ARN", "arn:aws:iam::<12-digit account>")


def test_misspelt_key_in_a_grant(tmp_path):
    message, path = error(tmp_path, researcher_grant(exclude_column=["dp"]))
    assert_names(message, path, "role 'researcher'", "grant #2", "table 'calls'", "unknown key 'exclude_column'",
                 "expected one of table, permissions, columns, exclude_columns")


def test_two_grants_on_one_table(tmp_path):
    data = copy.deepcopy(BASE)
    data["roles"]["engineer"]["grants"].append({"table": "sites", "columns": ["start"]})
    message, path = error(tmp_path, data)
    assert_names(message, path, "role 'engineer'", "grant #3", "table 'sites'", "grant #1 is the first",
                 "expected one grant per role and table")


def test_shared_principal(tmp_path):
    data = copy.deepcopy(BASE)
    data["roles"]["researcher"]["principal"] = ARN.format("engineer")
    message, path = error(tmp_path, data)
    assert_names(message, path, "role 'researcher'", "also role 'engineer'", "expected one role per principal")


def test_grant_that_leaves_no_column(tmp_path):
    data = copy.deepcopy(BASE)
    data["roles"]["researcher"]["grants"][0] = {"table": "samples", "columns": ["sample_id", "source_path"],
                                                "exclude_classifications": ["identifier"]}
    message, path = error(tmp_path, data)
    assert_names(message, path, "role 'researcher'", "grant #1", "table 'samples'", "no column left",
                 "expected at least one visible column")


def test_wrong_version(tmp_path):
    data = copy.deepcopy(BASE)
    data["version"] = 2
    message, path = error(tmp_path, data)
    assert_names(message, path, "'version' is invalid", "expected version: 1")


def test_row_filter_that_does_not_parse(tmp_path):
    message, path = error(tmp_path, researcher_grant(row_filter="sample_id LIKE 'NA12%' AND ("))
    assert_names(message, path, "role 'researcher'", "grant #2", "table 'calls'", "does not parse",
                 "expected an SQL predicate")


@pytest.mark.parametrize("row_filter, problem", [
    ("sample_id IN (SELECT sample_id FROM samples)", "a subquery is not allowed"),
    ("EXISTS (SELECT 1 FROM samples)", "a subquery is not allowed"),
    ("samples.sample_id LIKE 'NA12%'", "column samples.sample_id of another table is not allowed"),
    ("genolake.calls.sample_id = 'x'", "qualified column genolake.calls.sample_id is not allowed"),
    ("current_user() = 'x'", "is not allowed"),
    ("regexp_like(sample_id, 'NA12')", "function"),
    ("read_csv('/etc/passwd') IS NULL", "function"),
    ("*", "'*' is not allowed"),
    ("sample_id = 'x'; DROP TABLE calls", "';' or several statements"),
    ("sample_id = 'x';", "';' or several statements"),
    ("DROP TABLE calls", "a statement (DROP) is not allowed"),
    ("DELETE FROM calls", "is not allowed"),
    ("sample_id = 'x' -- or 1=1", "SQL comment"),
    ("sample_id ILIKE 'na12%'", "ILIKE"),
    ("sample_id", "not a predicate"),
    ("start = 'x'", "compares a number with a string"),
    ("sample_id = NULL", "use IS [NOT] NULL"),
    ("CAST(start AS varchar) = '1'", "a cast"),
    ("sample_id IN ('a', lower('B'))", "is not a literal"),
])
def test_unsafe_row_filter(tmp_path, row_filter, problem):
    message, path = error(tmp_path, researcher_grant(row_filter=row_filter))
    assert_names(message, path, "role 'researcher'", "grant #2", "table 'calls'", problem, "expected")


# ----------------------------------------------------------------------------------------------- row filters


@pytest.mark.parametrize("row_filter", [
    "sample_id LIKE 'NA12%'",
    "sample_id IN ('HG00096', 'NA12878')",
    "sample_id NOT IN ('HG00096')",
    "calls.sample_id = 'NA12878'",
    "(dp >= 10 AND gq > 20) OR NOT (phased = FALSE)",
    "start BETWEEN 100 AND 200 AND allele2 IS NOT NULL",
    "chromosome = '22' AND alt_index <> -1",
    "lower(sample_id) LIKE 'na12%' AND length(ref) = 1",
    "upper(substring(sample_id, 1, 2)) = 'NA' AND coalesce(dp, 0) > 5",
])
def test_safe_row_filters_pass(row_filter):
    parse_row_filter(row_filter, CALLS)


def test_parse_row_filter_raises_filter_error_without_file_context():
    with pytest.raises(FilterError, match=r"unknown column 'nope'; expected a column of calls"):
        parse_row_filter("nope = 1", CALLS)


def test_lake_formation_subset_is_narrower():
    for ok in ("sample_id LIKE 'NA12%'", "NOT sample_id IN ('a', 'b')", "dp BETWEEN 1 AND 9"):
        parse_row_filter(ok, CALLS, lake_formation=True)
    for bad, problem in (("lower(sample_id) = 'x'", "allows no functions"),
                         ("dp = gq", "compares a column with a column"),
                         ("chromosome IS NULL", "IS NULL on partition column 'chromosome'"),
                         ("allele1 = 1", "column 'allele1' has type smallint"),
                         ("sample_id IN (" + ", ".join(f"'NA{i:05d}'" for i in range(250)) + ")", "characters")):
        parse_row_filter(bad, CALLS)  # fine locally
        with pytest.raises(FilterError, match=re.escape(problem)):
            parse_row_filter(bad, CALLS, lake_formation=True)


def test_normalise_filter_canonical_text():
    assert normalise_filter("sample_id like 'NA12%'") == "sample_id LIKE 'NA12%'"
    spellings = ["calls.SAMPLE_ID   not in ('a','b')", "NOT sample_id IN ('a', 'b')", "sample_id NOT IN ( 'a' ,'b' )"]
    assert {normalise_filter(s) for s in spellings} == {"NOT sample_id IN ('a', 'b')"}
    assert normalise_filter("dp != 3") == "dp <> 3"
    assert normalise_filter("END > 5 and Start < 3") == '"end" > 5 AND start < 3'  # reserved word quoted
    for text in spellings + ["(dp >= 10 AND gq > 20) OR NOT (phased = FALSE)"]:
        once = normalise_filter(text)
        assert normalise_filter(once) == once


def test_normalised_filters_run_in_duckdb():
    con = duckdb.connect()
    con.execute('CREATE TABLE calls (sample_id VARCHAR, "end" BIGINT, dp INTEGER)')
    con.execute("INSERT INTO calls VALUES ('NA12878', 10, 5), ('NA12891', 20, NULL), ('HG00096', 30, 7)")
    for text, expected in (("sample_id LIKE 'NA12%'", ["NA12878", "NA12891"]),
                           ("calls.sample_id NOT IN ('NA12878')", ["HG00096", "NA12891"]),
                           ('"END" >= 20 AND dp IS NULL', ["NA12891"]),
                           ("dp != 5", ["HG00096"])):
        rows = con.execute(f"SELECT sample_id FROM calls WHERE {normalise_filter(text)} ORDER BY 1").fetchall()
        assert [r[0] for r in rows] == expected, text
