"""Lake Formation side of governance: read_actual / apply / sync_lf_tags.

Most tests run against moto (in-process ``mock_aws``: Glue database and tables, then Lake Formation grants).
moto 5.2.5 does NOT implement data cells filters (create/get/delete; list returns []) and ignores
MaxResults/NextToken on ListPermissions, so row filters (create filter, grant on DataCellsFilter, list filters ->
row_filter, delete on revoke), pagination and batch failures are tested with botocore's ``Stubber`` on a real
botocore lakeformation client, asserting the exact request parameters.
"""

from __future__ import annotations

import botocore.session
import pytest
from botocore.stub import Stubber

from governance.grants import Change, Grant, Plan
from governance.lakeformation import (LakeFormationError, StalePlanError, apply, filter_name, read_actual,
                                      sync_lf_tags)

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
DB = "genolake"
ANALYST = f"arn:aws:iam::{ACCOUNT}:role/analyst"
CLINICIAN = f"arn:aws:iam::{ACCOUNT}:role/clinician"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/lake-admin"
INTRUDER = f"arn:aws:iam::{ACCOUNT}:role/by-hand"
COLUMNS = {
    "sites": ["chrom", "pos", "ref", "alt", "af"],
    "calls": ["sample_id", "chrom", "pos", "gt", "dp"],
    "samples": ["sample_id", "sex", "population"],
}
TABLES = sorted(COLUMNS)


def diff(desired: list[Grant], actual: list[Grant]) -> Plan:
    """What plan.py does, kept local so these tests stand alone."""
    d, a = {g.key: g for g in desired}, {g.key: g for g in actual}
    return Plan(changes=[Change("add", after=d[k]) for k in sorted(d) if k not in a]
                + [Change("change", before=a[k], after=d[k]) for k in sorted(d) if k in a and a[k] != d[k]]
                + [Change("revoke", before=a[k]) for k in sorted(a) if k not in d])


def lf_state(lf) -> list[Grant]:
    return read_actual(lf, DB, TABLES, columns_of=COLUMNS)[0]


def raw(lf) -> list[dict]:
    return lf.list_permissions()["PrincipalResourcePermissions"]


def table(name: str) -> dict:
    return {"Table": {"DatabaseName": DB, "Name": name}}


@pytest.fixture
def lf(monkeypatch, tmp_path):
    from moto import mock_aws

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GLUE", "AWS_ENDPOINT_URL_LAKEFORMATION", "AWS_PROFILE",
                 "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    with mock_aws():
        import boto3

        glue = boto3.client("glue", region_name=REGION)
        glue.create_database(DatabaseInput={"Name": DB})
        for name, columns in COLUMNS.items():
            glue.create_table(DatabaseName=DB, TableInput={
                "Name": name, "TableType": "EXTERNAL_TABLE",
                "StorageDescriptor": {"Columns": [{"Name": c, "Type": "string"} for c in columns],
                                      "Location": f"s3://lake/{name}/"}})
        client = boto3.client("lakeformation", region_name=REGION)
        # a clean account: no IAM_ALLOWED_PRINCIPALS defaults (moto's defaults have them), one administrator
        client.put_data_lake_settings(DataLakeSettings={"DataLakeAdmins": [{"DataLakePrincipalIdentifier": ADMIN}],
                                                        "CreateDatabaseDefaultPermissions": [],
                                                        "CreateTableDefaultPermissions": []})
        yield client


# ------------------------------------------------------------------------------------------------------ moto


def test_add_change_revoke_and_second_apply_is_a_no_op(lf):
    assert read_actual(lf, DB, TABLES) == ([], [])
    desired = [
        Grant(ANALYST, DB, "sites", role="analyst"),
        Grant(ANALYST, DB, "samples", columns=("sample_id", "population"), role="analyst"),
        Grant(CLINICIAN, DB, "calls", permissions=("DESCRIBE",), role="clinician"),
        Grant(CLINICIAN, DB, "sites", columns=("pos", "chrom"), role="clinician"),
    ]
    plan = diff(desired, lf_state(lf))
    assert plan.counts() == {"add": 4, "change": 0, "revoke": 0}
    log = apply(lf, plan, DB, TABLES, columns_of=COLUMNS)
    assert log == [f"grant {g.role}: {g.describe()}" for g in sorted(desired, key=lambda g: g.key)]
    assert lf_state(lf) == sorted(desired)
    # column grants are SELECT on TableWithColumns plus DESCRIBE on the table
    rows = [r for r in raw(lf) if r["Principal"]["DataLakePrincipalIdentifier"] == CLINICIAN
            and "sites" in str(r["Resource"])]
    assert sorted((list(r["Resource"]), sorted(r["Permissions"])) for r in rows) == [
        (["Table"], ["DESCRIBE"]), (["TableWithColumns"], ["SELECT"])]

    # second apply: nothing to do
    assert diff(desired, lf_state(lf)).empty
    assert apply(lf, Plan(), DB, TABLES, columns_of=COLUMNS) == []
    assert lf_state(lf) == sorted(desired)

    # change (all columns -> some, some -> fewer, DESCRIBE -> DESCRIBE+SELECT) and revoke
    desired2 = [
        Grant(ANALYST, DB, "sites", columns=("chrom", "pos", "ref"), role="analyst"),
        Grant(ANALYST, DB, "samples", columns=("sample_id",), role="analyst"),
        Grant(CLINICIAN, DB, "calls", role="clinician"),
    ]
    plan = diff(desired2, lf_state(lf))
    assert plan.counts() == {"add": 0, "change": 3, "revoke": 1}
    apply(lf, plan, DB, TABLES, columns_of=COLUMNS)
    assert lf_state(lf) == sorted(desired2)
    assert diff(desired2, lf_state(lf)).empty

    # column list -> all columns again, then revoke everything
    desired3 = [Grant(ANALYST, DB, "sites")]
    apply(lf, diff(desired3, lf_state(lf)), DB, TABLES, columns_of=COLUMNS)
    assert lf_state(lf) == desired3
    apply(lf, diff([], lf_state(lf)), DB, TABLES, columns_of=COLUMNS)
    assert lf_state(lf) == [] and raw(lf) == []


def test_hand_added_grant_is_found_and_revoked(lf):
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": INTRUDER},
                         Resource={"TableWithColumns": {"DatabaseName": DB, "Name": "calls",
                                                        "ColumnNames": ["gt", "sample_id"]}},
                         Permissions=["SELECT"])
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": INTRUDER}, Resource=table("calls"),
                         Permissions=["DESCRIBE"])
    actual = lf_state(lf)
    assert actual == [Grant(INTRUDER, DB, "calls", columns=("gt", "sample_id"))]
    plan = diff([], actual)
    assert plan.counts() == {"add": 0, "change": 0, "revoke": 1}
    apply(lf, plan, DB, TABLES, columns_of=COLUMNS)
    assert lf_state(lf) == [] and raw(lf) == []


def test_column_order_from_list_permissions_does_not_matter(lf):
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ANALYST},
                         Resource={"TableWithColumns": {"DatabaseName": DB, "Name": "sites",
                                                        "ColumnNames": ["pos", "alt", "chrom"]}},
                         Permissions=["SELECT"])
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ANALYST}, Resource=table("sites"),
                         Permissions=["DESCRIBE"])
    desired = [Grant(ANALYST, DB, "sites", columns=("chrom", "pos", "alt"))]
    assert diff(desired, lf_state(lf)).empty
    # and a change revokes the unsorted grant exactly as listed (moto only revokes an identical resource)
    desired = [Grant(ANALYST, DB, "sites", columns=("chrom",))]
    apply(lf, diff(desired, lf_state(lf)), DB, TABLES, columns_of=COLUMNS)
    assert lf_state(lf) == desired
    assert not any(r["Resource"].get("TableWithColumns", {}).get("ColumnNames") == ["pos", "alt", "chrom"]
                   for r in raw(lf))


def test_column_wildcard_normalisation(lf):
    # a column wildcard without exclusions is a table SELECT: columns=None
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ANALYST},
                         Resource={"TableWithColumns": {"DatabaseName": DB, "Name": "sites", "ColumnWildcard": {}}},
                         Permissions=["SELECT"])
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ANALYST}, Resource=table("sites"),
                         Permissions=["DESCRIBE"])
    # exclusions become an allow-list from the contract's columns
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": CLINICIAN},
                         Resource={"TableWithColumns": {"DatabaseName": DB, "Name": "samples",
                                                        "ColumnWildcard": {"ExcludedColumnNames": ["sex"]}}},
                         Permissions=["SELECT"])
    assert lf_state(lf) == [Grant(ANALYST, DB, "sites"),
                            Grant(CLINICIAN, DB, "samples", permissions=("SELECT",),
                                  columns=("population", "sample_id"))]
    with pytest.raises(LakeFormationError, match=r"columns_of\['samples'\]"):
        read_actual(lf, DB, TABLES)
    # excluding a column the table does not have leaves all columns
    assert read_actual(lf, DB, ["samples"], columns_of={"samples": ["sample_id", "population"]})[0] == [
        Grant(CLINICIAN, DB, "samples", permissions=("SELECT",))]


def test_iam_allowed_principals_is_reported_and_removed(lf):
    iam = {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"}
    lf.grant_permissions(Principal=iam, Resource=table("sites"), Permissions=["ALL"])
    lf.grant_permissions(Principal=iam, Resource={"Database": {"Name": DB}}, Permissions=["ALL"])
    lf.grant_permissions(Principal=iam, Resource={"Database": {"Name": "other"}}, Permissions=["ALL"])
    lf.grant_permissions(Principal=iam, Resource=table("not_managed"), Permissions=["ALL"])
    lf.put_data_lake_settings(DataLakeSettings={
        "DataLakeAdmins": [{"DataLakePrincipalIdentifier": ADMIN}], "CreateDatabaseDefaultPermissions": [],
        "CreateTableDefaultPermissions": [{"Principal": iam, "Permissions": ["ALL"]}]})
    grants, notes = read_actual(lf, DB, TABLES)
    assert grants == []
    assert "IAM_ALLOWED_PRINCIPALS has ALL on genolake.sites: Lake Formation permissions are not in force for this " \
           "table; revoking it" in notes
    assert any(n.startswith("IAM_ALLOWED_PRINCIPALS has ALL on database genolake") for n in notes)
    assert any("CreateTableDefaultPermissions" in n for n in notes)
    assert not any("other" in n or "not_managed" in n for n in notes)

    log = apply(lf, Plan(notes=notes), DB, TABLES)
    assert len(log) == 2
    left = raw(lf)
    assert sorted(str(r["Resource"]) for r in left) == sorted(
        [str({"Database": {"Name": "other"}}), str(table("not_managed"))])  # other databases/tables untouched
    assert not any(n.startswith("IAM_ALLOWED") for n in read_actual(lf, DB, TABLES)[1])

    # apply(..., revoke_unmanaged=False) leaves them
    lf.grant_permissions(Principal=iam, Resource=table("calls"), Permissions=["ALL"])
    assert apply(lf, Plan(), DB, TABLES, revoke_unmanaged=False) == []
    assert any("genolake.calls" in n for n in read_actual(lf, DB, TABLES)[1])


def test_data_lake_admins_are_ignored_and_never_touched(lf):
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ADMIN}, Resource=table("sites"),
                         Permissions=["SELECT", "DESCRIBE"])
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ADMIN},
                         Resource={"Table": {"DatabaseName": DB, "TableWildcard": {}}}, Permissions=["SELECT"])
    assert read_actual(lf, DB, TABLES) == ([], [])
    apply(lf, diff([Grant(ANALYST, DB, "sites")], []), DB, TABLES)
    assert lf_state(lf) == [Grant(ANALYST, DB, "sites")]
    assert sum(r["Principal"]["DataLakePrincipalIdentifier"] == ADMIN for r in raw(lf)) == 2
    with pytest.raises(LakeFormationError, match="data lake administrators"):
        apply(lf, diff([Grant(ADMIN, DB, "calls")], []), DB, TABLES)
    assert sum(r["Principal"]["DataLakePrincipalIdentifier"] == ADMIN for r in raw(lf)) == 2


def test_table_wildcard_and_all_grants(lf):
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": INTRUDER},
                         Resource={"Table": {"DatabaseName": DB, "TableWildcard": {}}},
                         Permissions=["SELECT", "DESCRIBE"])
    # a writer holding ALL (e.g. the table's creator) is reported, never revoked
    writer = f"arn:aws:iam::{ACCOUNT}:role/writer"
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": writer}, Resource=table("calls"),
                         Permissions=["ALL"])
    grants, notes = read_actual(lf, DB, TABLES)
    assert grants == []
    assert f"{INTRUDER} has DESCRIBE+SELECT on every table of genolake (table wildcard): the policy grants table " \
           "by table; revoking it" in notes
    assert f"{writer} has ALL on genolake.calls: not managed by the policy; left alone" in notes
    apply(lf, Plan(notes=notes), DB, TABLES)
    assert [r["Principal"]["DataLakePrincipalIdentifier"] for r in raw(lf)] == [writer]


def test_stale_plan_is_refused(lf):
    plan = diff([Grant(ANALYST, DB, "sites")], lf_state(lf))
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ANALYST}, Resource=table("sites"),
                         Permissions=["DESCRIBE"])
    with pytest.raises(StalePlanError, match="plan again.*analyst.*genolake.sites"):
        apply(lf, plan, DB, TABLES)
    with pytest.raises(LakeFormationError, match="outside the managed database"):
        apply(lf, diff([Grant(ANALYST, "other", "sites")], []), DB, TABLES)


def test_sync_lf_tags_is_idempotent(lf):
    classified = {"samples": {"sex": "pii", "population": "internal"}, "calls": {"gt": "sensitive"}}
    log = sync_lf_tags(lf, DB, classified)
    assert log[0] == "created LF-tag classification = internal, pii, sensitive"
    assert len(log) == 4
    assert sorted(lf.get_lf_tag(TagKey="classification")["TagValues"]) == ["internal", "pii", "sensitive"]
    tags = lf.get_resource_lf_tags(Resource={"TableWithColumns": {"DatabaseName": DB, "Name": "samples",
                                                                   "ColumnNames": ["sex", "population"]}})
    assert {c["Name"]: c["LFTags"][0]["TagValues"] for c in tags["LFTagsOnColumns"]} == {
        "sex": ["pii"], "population": ["internal"]}
    assert sync_lf_tags(lf, DB, classified) == []

    # a new value is added to the tag; a reclassified column is retagged
    classified["sites"] = {"af": "public"}
    classified["calls"]["gt"] = "pii"
    log = sync_lf_tags(lf, DB, classified)
    assert log == ["LF-tag classification: added values public",
                   "tagged genolake.calls (gt) with classification=pii",
                   "tagged genolake.sites (af) with classification=public"]
    assert sorted(lf.get_lf_tag(TagKey="classification")["TagValues"]) == ["internal", "pii", "public", "sensitive"]
    assert sync_lf_tags(lf, DB, classified) == []


# ------------------------------------------------------------------------------------------------------ Stubber

SITES = {"DatabaseName": DB, "Name": "sites"}


def stubbed():
    client = botocore.session.get_session().create_client(
        "lakeformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y",
        endpoint_url="https://lakeformation.invalid")
    return client, Stubber(client)


def settings(stub):
    stub.add_response("get_data_lake_settings", {"DataLakeSettings": {
        "DataLakeAdmins": [{"DataLakePrincipalIdentifier": ADMIN}]}}, {"CatalogId": ACCOUNT})


def row(principal, resource, permissions):
    return {"Principal": {"DataLakePrincipalIdentifier": principal}, "Resource": resource,
            "Permissions": permissions, "PermissionsWithGrantOption": []}


def dcf_resource(name):
    return {"DataCellsFilter": {"TableCatalogId": ACCOUNT, "DatabaseName": DB, "TableName": "sites", "Name": name}}


def test_pagination_and_row_filters_are_read():
    lf, stub = stubbed()
    name = filter_name(ANALYST, "sites")
    settings(stub)
    stub.add_response("list_permissions", {"PrincipalResourcePermissions": [
        row(ANALYST, {"Table": {"CatalogId": ACCOUNT, **SITES}}, ["DESCRIBE"]),
        row(ADMIN, {"Table": {"CatalogId": ACCOUNT, **SITES}}, ["SELECT"]),
    ], "NextToken": "p2"}, {"CatalogId": ACCOUNT})
    stub.add_response("list_permissions", {"PrincipalResourcePermissions": [
        row(ANALYST, dcf_resource(name), ["SELECT"]),
        row(CLINICIAN, dcf_resource("hand_made"), ["SELECT"]),
    ], "NextToken": "p3"}, {"CatalogId": ACCOUNT, "NextToken": "p2"})
    stub.add_response("list_permissions", {"PrincipalResourcePermissions": [
        row(CLINICIAN, {"Table": {"CatalogId": ACCOUNT, **SITES}}, ["DESCRIBE"]),
    ]}, {"CatalogId": ACCOUNT, "NextToken": "p3"})
    table_arg = {"Table": {"CatalogId": ACCOUNT, **SITES}}
    stub.add_response("list_data_cells_filter", {"DataCellsFilters": [
        {"TableCatalogId": ACCOUNT, "DatabaseName": DB, "TableName": "sites", "Name": "hand_made",
         "RowFilter": {"AllRowsWildcard": {}}, "ColumnNames": ["pos", "chrom"]},
    ], "NextToken": "f2"}, table_arg)
    stub.add_response("list_data_cells_filter", {"DataCellsFilters": [
        {"TableCatalogId": ACCOUNT, "DatabaseName": DB, "TableName": "sites", "Name": name,
         "RowFilter": {"FilterExpression": "chrom = '22'"}, "ColumnWildcard": {}},
    ]}, {**table_arg, "NextToken": "f2"})
    with stub:
        grants, notes = read_actual(lf, DB, ["sites"], catalog_id=ACCOUNT)
    stub.assert_no_pending_responses()
    assert notes == []
    assert grants == [Grant(ANALYST, DB, "sites", row_filter="chrom = '22'"),
                      Grant(CLINICIAN, DB, "sites", columns=("chrom", "pos"))]


def read_stubs(stub, rows, filters=()):
    settings(stub)
    stub.add_response("list_permissions", {"PrincipalResourcePermissions": list(rows)}, {"CatalogId": ACCOUNT})
    stub.add_response("list_data_cells_filter", {"DataCellsFilters": list(filters)},
                      {"Table": {"CatalogId": ACCOUNT, **SITES}})


def test_add_row_filtered_grant_creates_filter_and_grants_on_it():
    lf, stub = stubbed()
    name = filter_name(ANALYST, "sites")
    assert name.startswith("genolake_") and name.endswith("_sites") and name.replace("_", "").isalnum()
    after = Grant(ANALYST, DB, "sites", columns=("pos", "chrom"), row_filter="chrom = '22'", role="analyst")
    read_stubs(stub, [])
    table_data = {"TableCatalogId": ACCOUNT, "DatabaseName": DB, "TableName": "sites", "Name": name,
                  "RowFilter": {"FilterExpression": "chrom = '22'"}, "ColumnNames": ["chrom", "pos"]}
    stub.add_response("create_data_cells_filter", {}, {"TableData": table_data})
    stub.add_response("batch_grant_permissions", {"Failures": []}, {"CatalogId": ACCOUNT, "Entries": [
        {"Id": "0", "Principal": {"DataLakePrincipalIdentifier": ANALYST}, "Resource": dcf_resource(name),
         "Permissions": ["SELECT"]},
        {"Id": "1", "Principal": {"DataLakePrincipalIdentifier": ANALYST},
         "Resource": {"Table": {"CatalogId": ACCOUNT, **SITES}}, "Permissions": ["DESCRIBE"]},
    ]})
    with stub:
        log = apply(lf, Plan([Change("add", after=after)]), DB, catalog_id=ACCOUNT)
    stub.assert_no_pending_responses()
    assert log[-1] == "grant analyst: DESCRIBE+SELECT on genolake.sites: chrom, pos; rows where chrom = '22'"


def test_existing_filter_left_over_is_updated():
    lf, stub = stubbed()
    name = filter_name(ANALYST, "sites")
    after = Grant(ANALYST, DB, "sites", permissions=("SELECT",), row_filter="af > 0.01")
    read_stubs(stub, [])
    table_data = {"TableCatalogId": ACCOUNT, "DatabaseName": DB, "TableName": "sites", "Name": name,
                  "RowFilter": {"FilterExpression": "af > 0.01"}, "ColumnWildcard": {}}
    stub.add_client_error("create_data_cells_filter", "AlreadyExistsException", "exists",
                          expected_params={"TableData": table_data})
    stub.add_response("update_data_cells_filter", {}, {"TableData": table_data})
    stub.add_response("batch_grant_permissions", {"Failures": []}, {"CatalogId": ACCOUNT, "Entries": [
        {"Id": "0", "Principal": {"DataLakePrincipalIdentifier": ANALYST}, "Resource": dcf_resource(name),
         "Permissions": ["SELECT"]}]})
    with stub:
        apply(lf, Plan([Change("add", after=after)]), DB, catalog_id=ACCOUNT)
    stub.assert_no_pending_responses()


def test_change_and_revoke_of_row_filtered_grant_delete_the_filter():
    name = filter_name(ANALYST, "sites")
    rows = [row(ANALYST, dcf_resource(name), ["SELECT"]),
            row(ANALYST, {"Table": {"CatalogId": ACCOUNT, **SITES}}, ["DESCRIBE"])]
    filters = [{"TableCatalogId": ACCOUNT, "DatabaseName": DB, "TableName": "sites", "Name": name,
                "RowFilter": {"FilterExpression": "chrom = '22'"}, "ColumnNames": ["chrom", "pos"]}]
    before = Grant(ANALYST, DB, "sites", columns=("chrom", "pos"), row_filter="chrom = '22'")
    revoke_entries = {"CatalogId": ACCOUNT, "Entries": [
        {"Id": "0", "Principal": {"DataLakePrincipalIdentifier": ANALYST}, "Resource": dcf_resource(name),
         "Permissions": ["SELECT"]},
        {"Id": "1", "Principal": {"DataLakePrincipalIdentifier": ANALYST},
         "Resource": {"Table": {"CatalogId": ACCOUNT, **SITES}}, "Permissions": ["DESCRIBE"]}]}
    delete = {"TableCatalogId": ACCOUNT, "DatabaseName": DB, "TableName": "sites", "Name": name}

    # revoke: revoke SELECT on the filter and DESCRIBE on the table, then delete the filter
    lf, stub = stubbed()
    read_stubs(stub, rows, filters)
    stub.add_response("batch_revoke_permissions", {"Failures": []}, revoke_entries)
    stub.add_response("delete_data_cells_filter", {}, delete)
    with stub:
        log = apply(lf, Plan([Change("revoke", before=before)]), DB, catalog_id=ACCOUNT)
    stub.assert_no_pending_responses()
    assert f"deleted data cells filter {name} on genolake.sites" in log

    # change to another row filter: revoke + delete, then create + grant
    lf, stub = stubbed()
    after = Grant(ANALYST, DB, "sites", columns=("chrom", "pos"), row_filter="chrom = 'X'")
    read_stubs(stub, rows, filters)
    stub.add_response("batch_revoke_permissions", {"Failures": []}, revoke_entries)
    stub.add_response("delete_data_cells_filter", {}, delete)
    stub.add_response("create_data_cells_filter", {}, {"TableData": {
        **delete, "RowFilter": {"FilterExpression": "chrom = 'X'"}, "ColumnNames": ["chrom", "pos"]}})
    stub.add_response("batch_grant_permissions", {"Failures": []},
                      {**revoke_entries, "Entries": revoke_entries["Entries"]})
    with stub:
        apply(lf, Plan([Change("change", before=before, after=after)]), DB, catalog_id=ACCOUNT)
    stub.assert_no_pending_responses()

    # change to a plain column grant: the filter goes, SELECT on TableWithColumns
    lf, stub = stubbed()
    after = Grant(ANALYST, DB, "sites", columns=("chrom",))
    read_stubs(stub, rows, filters)
    stub.add_response("batch_revoke_permissions", {"Failures": []}, revoke_entries)
    stub.add_response("delete_data_cells_filter", {}, delete)
    stub.add_response("batch_grant_permissions", {"Failures": []}, {"CatalogId": ACCOUNT, "Entries": [
        {"Id": "0", "Principal": {"DataLakePrincipalIdentifier": ANALYST},
         "Resource": {"TableWithColumns": {"CatalogId": ACCOUNT, **SITES, "ColumnNames": ["chrom"]}},
         "Permissions": ["SELECT"]},
        {"Id": "1", "Principal": {"DataLakePrincipalIdentifier": ANALYST},
         "Resource": {"Table": {"CatalogId": ACCOUNT, **SITES}}, "Permissions": ["DESCRIBE"]}]})
    with stub:
        apply(lf, Plan([Change("change", before=before, after=after)]), DB, catalog_id=ACCOUNT)
    stub.assert_no_pending_responses()


def test_batch_failures_name_principal_and_table():
    lf, stub = stubbed()
    read_stubs(stub, [])
    entry = {"Id": "0", "Principal": {"DataLakePrincipalIdentifier": CLINICIAN},
             "Resource": {"Table": {"CatalogId": ACCOUNT, **SITES}}, "Permissions": ["DESCRIBE", "SELECT"]}
    stub.add_response("batch_grant_permissions", {"Failures": [
        {"RequestEntry": entry, "Error": {"ErrorCode": "EntityNotFoundException",
                                          "ErrorMessage": "Table sites not found"}}]},
        {"CatalogId": ACCOUNT, "Entries": [entry]})
    with stub, pytest.raises(LakeFormationError) as raised:
        apply(lf, Plan([Change("add", after=Grant(CLINICIAN, DB, "sites", role="clinician"))]), DB,
              catalog_id=ACCOUNT)
    assert str(raised.value) == ("Lake Formation refused to grant: clinician on genolake.sites: "
                                 "EntityNotFoundException: Table sites not found")


def test_filter_needs_a_catalog_id_when_it_cannot_be_found():
    lf, stub = stubbed()
    # no catalog_id: the calls carry none
    stub.add_response("get_data_lake_settings", {"DataLakeSettings": {}}, {})
    stub.add_response("list_permissions", {"PrincipalResourcePermissions": []}, {})
    stub.add_response("list_data_cells_filter", {"DataCellsFilters": []}, {"Table": SITES})
    stub.add_client_error("get_data_lake_principal", "AccessDeniedException", "no")
    with stub, pytest.raises(LakeFormationError, match="pass catalog_id"):
        apply(lf, Plan([Change("add", after=Grant(ANALYST, DB, "sites", row_filter="pos > 1"))]), DB)


# ------------------------------------------------------------------------------- compound filters settle


class _CellsFilters:
    """moto's Lake Formation (grants, listing, settings) with the data cells filter calls moto lacks served from
    a dict. Like a real engine, the store re-spells each expression: every predicate in parentheses, keywords
    upper-cased (``((a = 1) AND (b = 1))``); a plan that compared text would never settle."""

    def __init__(self, client):
        self._client, self.filters = client, {}

    def __getattr__(self, name):
        return getattr(self._client, name)

    @staticmethod
    def respell(expression: str) -> str:
        import sqlglot
        from sqlglot import exp

        tree = sqlglot.parse_one(expression)
        for node in list(tree.find_all(exp.Predicate, exp.Connector, exp.Not)):
            if not isinstance(node.parent, exp.Paren):
                node.replace(exp.Paren(this=node.copy()))
        return tree.sql()

    def create_data_cells_filter(self, TableData):
        key = (TableData["TableName"], TableData["Name"])
        if key in self.filters:
            raise self._client.exceptions.AlreadyExistsException(
                {"Error": {"Code": "AlreadyExistsException", "Message": "exists"}}, "CreateDataCellsFilter")
        data = dict(TableData)
        if "FilterExpression" in data.get("RowFilter", {}):
            data["RowFilter"] = {"FilterExpression": self.respell(data["RowFilter"]["FilterExpression"])}
        self.filters[key] = data
        return {}

    def update_data_cells_filter(self, TableData):
        self.filters.pop((TableData["TableName"], TableData["Name"]), None)
        return self.create_data_cells_filter(TableData)

    def delete_data_cells_filter(self, **kwargs):
        self.filters.pop((kwargs["TableName"], kwargs["Name"]), None)
        return {}

    def list_data_cells_filter(self, Table, **kwargs):
        return {"DataCellsFilters": [f for (table, _), f in sorted(self.filters.items()) if table == Table["Name"]]}


COMPOUND = {
    "sites": ["(chrom = '21' OR chrom = '22') AND NOT pos BETWEEN 100 AND 200",
              "NOT (ref IN ('A', 'C') OR alt = 'T') AND pos >= 5"],
    "calls": ["sample_id LIKE 'NA12%' AND (gt <> '0/0' OR dp > 10) AND NOT sample_id IN ('NA12878')"],
    "samples": ["sample_id IN ('a', 'b') OR population = 'CEU' AND NOT sex = 'F'"],
}


def test_compound_filters_settle_on_lake_formation(lf):
    """apply, then plan: No changes. for AND/OR/NOT/BETWEEN/IN filters read back re-spelled by the service."""
    from governance.model import normalise_filter
    from governance.plan import diff as plan_diff, render

    store = _CellsFilters(lf)
    desired = [Grant(ANALYST, DB, "sites", columns=("chrom", "pos", "ref", "alt"),
                     row_filter=normalise_filter(COMPOUND["sites"][0]), role="analyst"),
               Grant(ANALYST, DB, "calls", row_filter=normalise_filter(COMPOUND["calls"][0]), role="analyst"),
               Grant(CLINICIAN, DB, "sites", row_filter=normalise_filter(COMPOUND["sites"][1]), role="clinician"),
               Grant(CLINICIAN, DB, "samples", permissions=("SELECT",),
                     row_filter=normalise_filter(COMPOUND["samples"][0]), role="clinician")]
    plan = plan_diff(desired, lf_state(store))
    assert plan.counts() == {"add": 4, "change": 0, "revoke": 0}
    apply(store, plan, DB, TABLES, catalog_id=ACCOUNT, columns_of=COLUMNS)
    sent = {g.row_filter for g in desired}
    stored = [f["RowFilter"]["FilterExpression"] for f in store.filters.values()]
    assert len(stored) == 4 and not sent & set(stored), stored  # the service's spelling is not ours ...
    assert all(s.count("(") > min(x.count("(") for x in sent) for s in stored)
    after = plan_diff(desired, read_actual(store, DB, TABLES, catalog_id=ACCOUNT, columns_of=COLUMNS)[0])
    assert render(after) == "No changes.", render(after)  # ... and the plan still settles
    # and a real change in meaning is still a change
    changed = [g if g.table != "samples" else Grant(CLINICIAN, DB, "samples", permissions=("SELECT",),
                                                    row_filter=normalise_filter("(sample_id IN ('a', 'b') OR "
                                                                                "population = 'CEU') AND NOT sex = 'F'"),
                                                    role="clinician") for g in desired]
    assert plan_diff(changed, read_actual(store, DB, TABLES, catalog_id=ACCOUNT, columns_of=COLUMNS)[0]
                     ).counts() == {"add": 0, "change": 1, "revoke": 0}
