"""The AWS side of governance: Lake Formation permissions read as ``Grant`` records and changed from a ``Plan``.

* ``read_actual``: the effective SELECT/DESCRIBE grants on the managed database's tables, normalised so that they
  compare equal to the compiled policy (a column-wildcard SELECT is a table SELECT, ``columns=None``; column lists
  sorted; SELECT and DESCRIBE of one principal on one table are one ``Grant``; a SELECT on a data cells filter
  carries the filter's row predicate and columns). Every list call follows ``NextToken``. Data lake administrators
  are never reported. Grants that are not ``Grant`` records but must go (``IAM_ALLOWED_PRINCIPALS``, table
  wildcards) come back as notes.
* ``apply``: carries out a plan: revokes exactly what each change's ``before`` holds (the raw Lake Formation rows it
  was read from), then grants ``after``; a row filter becomes a data cells filter named by ``filter_name``. It
  refuses a stale plan (the grants changed since it was made) and never touches data lake administrators.
* ``sync_lf_tags``: the ``classification`` LF-tag and its values on the classified columns (tag-based access).

Plain library: no dagster import; the boto3 ``lakeformation`` client is passed in by the caller.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Optional

from botocore.exceptions import ClientError

from .grants import Grant, Plan

IAM_ALLOWED_PRINCIPALS = "IAM_ALLOWED_PRINCIPALS"
READ = ("DESCRIBE", "SELECT")  # the permissions a Grant describes; everything else is left alone
FILTER_PREFIX = "genolake_"
FILTER_NAME_MAX = 255  # Lake Formation NameString
BATCH_MAX = 20  # entries per BatchGrantPermissions / BatchRevokePermissions call
TAG_VALUES_MAX = 50  # values per CreateLFTag / UpdateLFTag call

Key = tuple[str, str, str]  # (principal, database, table), as Grant.key


class LakeFormationError(RuntimeError):
    """A Lake Formation call failed or refused, or the state cannot be represented; the message says what."""


class StalePlanError(LakeFormationError):
    """The grants in Lake Formation are no longer what the plan was made from: plan again."""


def filter_name(principal: str, table: str) -> str:
    """The data cells filter that carries ``principal``'s row filter on ``table``: ``genolake_<hash>_<table>``.

    Deterministic (same principal and table, same name), only ``[A-Za-z0-9_]``, at most 255 characters."""
    digest = hashlib.sha256(principal.encode()).hexdigest()[:12]
    name = f"{FILTER_PREFIX}{digest}_{re.sub(r'[^A-Za-z0-9_]', '_', table)}"
    return name[:FILTER_NAME_MAX]


# ---------------------------------------------------------------------------------------------------- reading


@dataclass
class _State:
    grants: dict[Key, Grant] = field(default_factory=dict)
    rows: dict[Key, list[dict]] = field(default_factory=lambda: defaultdict(list))  # raw rows behind each grant
    strays: list[tuple[str, dict]] = field(default_factory=list)  # (note, raw row) that apply revokes
    notes: list[str] = field(default_factory=list)
    admins: frozenset[str] = frozenset()


def _cid(catalog_id: Optional[str]) -> dict:
    return {"CatalogId": catalog_id} if catalog_id else {}


def _principal(row: dict) -> str:
    return (row.get("Principal") or {}).get("DataLakePrincipalIdentifier", "")


def _held(row: dict) -> set[str]:
    return set(row.get("Permissions") or []) | set(row.get("PermissionsWithGrantOption") or [])


def _paginate(call, key: str, **kwargs) -> list[dict]:
    items, token = [], None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        items.extend(page.get(key) or [])
        token = page.get("NextToken")
        if not token:
            return items


def data_lake_admins(lf, catalog_id: Optional[str] = None) -> tuple[frozenset[str], list[str]]:
    """(administrators and read-only administrators, notes on the data lake settings)."""
    settings = lf.get_data_lake_settings(**_cid(catalog_id)).get("DataLakeSettings") or {}
    admins = frozenset(p.get("DataLakePrincipalIdentifier", "")
                       for name in ("DataLakeAdmins", "ReadOnlyAdmins") for p in settings.get(name) or [])
    notes = []
    for name, what in (("CreateDatabaseDefaultPermissions", "databases"), ("CreateTableDefaultPermissions", "tables")):
        if any(_principal(p) == IAM_ALLOWED_PRINCIPALS for p in settings.get(name) or []):
            notes.append(f"the data lake settings give IAM_ALLOWED_PRINCIPALS ALL on new {what} ({name}): "
                         "Lake Formation permissions are not in force on them until the next apply; empty it in "
                         "the data lake settings (Terraform owns them)")
    return admins, notes


def _columns(spec: dict, table: str, columns_of: Optional[dict[str, list[str]]]) -> Optional[tuple[str, ...]]:
    """ColumnNames / ColumnWildcard (of a TableWithColumns resource or a data cells filter) -> Grant.columns."""
    if spec.get("ColumnNames"):
        return tuple(sorted(set(spec["ColumnNames"])))
    excluded = set((spec.get("ColumnWildcard") or {}).get("ExcludedColumnNames") or [])
    if not excluded:
        return None
    if not columns_of or table not in columns_of:
        raise LakeFormationError(
            f"{table}: a column wildcard excludes {sorted(excluded)}; pass columns_of[{table!r}] (all column names "
            "of the table, from its contract) so the allowed columns can be known")
    allowed = [c for c in columns_of[table] if c not in excluded]
    return None if set(allowed) == set(columns_of[table]) else tuple(sorted(set(allowed)))


def _canonical_filter(expression: Optional[str]) -> Optional[str]:
    """A filter expression as Lake Formation stores it -> the policy's canonical text (``normalise_filter``), so
    a filter the service re-spells (parentheses, case, ``!=``) compares equal to the one applied. One that does
    not parse is kept as it is (it then shows as a change, and apply replaces it)."""
    if not expression:
        return None
    from .model import FilterError, normalise_filter

    try:
        return normalise_filter(expression)
    except FilterError:
        return expression


def _read(lf, database: str, tables: Iterable[str], catalog_id: Optional[str],
          columns_of: Optional[dict[str, list[str]]]) -> _State:
    tables = sorted(set(tables))
    managed = set(tables)
    state = _State()
    state.admins, settings_notes = data_lake_admins(lf, catalog_id)
    state.notes.extend(settings_notes)

    # One unfiltered, paginated listing: moto's Resource={"Table": ...} filter misses TableWithColumns rows, and Lake
    # Formation has no single filter that returns table, column and data-cells-filter grants of one database.
    rows = _paginate(lf.list_permissions, "PrincipalResourcePermissions", **_cid(catalog_id))
    filters: dict[tuple[str, str], dict] = {}
    for table in tables:
        for f in _paginate(lf.list_data_cells_filter, "DataCellsFilters",
                           Table={**_cid(catalog_id), "DatabaseName": database, "Name": table}):
            filters[(f.get("TableName", table), f["Name"])] = f

    sources: dict[Key, list[tuple[Optional[tuple[str, ...]], Optional[str]]]] = defaultdict(list)
    described: set[Key] = set()
    for row in rows:
        principal, resource, held = _principal(row), row.get("Resource") or {}, _held(row)
        if "Database" in resource:
            if resource["Database"].get("Name") == database and principal == IAM_ALLOWED_PRINCIPALS:
                state.strays.append((f"IAM_ALLOWED_PRINCIPALS has {'+'.join(sorted(held))} on database {database}: "
                                     "new tables in it start outside Lake Formation; revoking it", row))
            continue
        if "Table" in resource:
            kind, spec = "Table", resource["Table"]
            table = spec.get("Name")
        elif "TableWithColumns" in resource:
            kind, spec = "TableWithColumns", resource["TableWithColumns"]
            table = spec.get("Name")
        elif "DataCellsFilter" in resource:
            kind, spec = "DataCellsFilter", resource["DataCellsFilter"]
            table = spec.get("TableName")
        else:
            continue
        if spec.get("DatabaseName") != database or principal in state.admins:
            continue
        perms = "+".join(sorted(held))
        if kind == "Table" and "TableWildcard" in spec:
            if principal == IAM_ALLOWED_PRINCIPALS or held & set(READ):
                state.strays.append((f"{principal} has {perms} on every table of {database} (table wildcard): the "
                                     "policy grants table by table; revoking it", row))
            continue
        if table not in managed:
            continue
        if principal == IAM_ALLOWED_PRINCIPALS:
            state.strays.append((f"IAM_ALLOWED_PRINCIPALS has {perms} on {database}.{table}: Lake Formation "
                                 "permissions are not in force for this table; revoking it", row))
            continue
        if "ALL" in held or not held & set(READ):
            # ALL (e.g. a table's creator) and write permissions are not the policy's to manage: left alone
            state.notes.append(f"{principal} has {perms} on {database}.{table}: not managed by the policy; left alone")
            continue
        if held - set(READ):
            state.notes.append(f"{principal} has {perms} on {database}.{table}: only DESCRIBE and SELECT are managed "
                               "by the policy; the rest is left alone")
        key = (principal, database, table)
        state.rows[key].append(row)
        if "DESCRIBE" in held:
            described.add(key)
        if "SELECT" not in held:
            continue
        if kind == "Table":
            sources[key].append((None, None))
        elif kind == "TableWithColumns":
            sources[key].append((_columns(spec, table, columns_of), None))
        else:
            f = filters.get((table, spec.get("Name")))
            if f is None:
                state.notes.append(f"{principal} has SELECT on data cells filter {spec.get('Name')} of "
                                   f"{database}.{table}, which was not found; treated as no rows")
                sources[key].append((None, "FALSE"))
                continue
            row_filter = (f.get("RowFilter") or {}).get("FilterExpression")
            sources[key].append((_columns(f, table, columns_of), _canonical_filter(row_filter)))

    for key in state.rows:
        permissions = (("DESCRIBE",) if key in described else ()) + (("SELECT",) if sources.get(key) else ())
        columns, row_filter = None, None
        found = sources.get(key) or []
        if len(found) == 1:
            columns, row_filter = found[0]
        elif found:
            state.notes.append(f"{key[0]} has {len(found)} SELECT grants on {key[1]}.{key[2]}: read as their union "
                               "(a change rewrites them as one)")
            columns = None if any(c is None for c, _ in found) else tuple(sorted({x for c, _ in found for x in c}))
            filters_found = [r for _, r in found]
            row_filter = (None if any(r is None for r in filters_found)
                          else " OR ".join(sorted({f"({r})" for r in filters_found})))
        state.grants[key] = Grant(principal=key[0], database=key[1], table=key[2], permissions=permissions,
                                  columns=columns, row_filter=row_filter)
    return state


def read_actual(lf, database: str, tables: list[str], catalog_id: Optional[str] = None,
                columns_of: Optional[dict[str, list[str]]] = None) -> tuple[list[Grant], list[str]]:
    """The effective SELECT/DESCRIBE grants on ``database``'s ``tables``, and notes.

    Returns ``(grants, notes)``: ``grants`` sorted, one ``Grant`` per (principal, table) with ``role=""``; ``notes``
    are findings for the plan: ``IAM_ALLOWED_PRINCIPALS`` grants on the database or these tables and table-wildcard
    grants (``apply`` revokes them), data lake settings that put new tables outside Lake Formation, and grants left
    alone (ALL, write permissions). Data lake administrators (and read-only administrators) are skipped.
    ``columns_of`` (table -> all its column names) is needed only to read a column wildcard with exclusions.
    """
    state = _read(lf, database, tables, catalog_id, columns_of)
    return sorted(state.grants.values()), [note for note, _ in state.strays] + state.notes


# ---------------------------------------------------------------------------------------------------- applying


def _who(grant: Grant) -> str:
    return grant.role or grant.principal


def _entry(principal: str, resource: dict, permissions: Iterable[str], grantable: Iterable[str] = ()) -> dict:
    entry = {"Principal": {"DataLakePrincipalIdentifier": principal}, "Resource": resource,
             "Permissions": sorted(set(permissions))}
    if grantable:
        entry["PermissionsWithGrantOption"] = sorted(set(grantable))
    return entry


def _batch(lf, operation: str, entries: list[tuple[dict, str]], catalog_id: Optional[str]) -> None:
    """BatchGrantPermissions / BatchRevokePermissions in chunks; any failure raises naming principal and table."""
    call = getattr(lf, operation)
    verb = "grant" if operation == "batch_grant_permissions" else "revoke"
    for start in range(0, len(entries), BATCH_MAX):
        chunk = entries[start:start + BATCH_MAX]
        request = [{"Id": str(start + i), **entry} for i, (entry, _) in enumerate(chunk)]
        try:
            failures = call(Entries=request, **_cid(catalog_id)).get("Failures") or []
        except ClientError as e:
            whats = "; ".join(what for _, what in chunk)
            raise LakeFormationError(f"Lake Formation could not {verb} ({whats}): {e}") from e
        if failures:
            by_id = {str(start + i): what for i, (_, what) in enumerate(chunk)}
            problems = []
            for failure in failures:
                error = failure.get("Error") or {}
                entry_id = (failure.get("RequestEntry") or {}).get("Id", "")
                problems.append(f"{by_id.get(entry_id, entry_id)}: {error.get('ErrorCode', 'error')}: "
                                f"{error.get('ErrorMessage', '')}".rstrip(": "))
            raise LakeFormationError(f"Lake Formation refused to {verb}: " + "; ".join(problems))


def _account_id(lf, catalog_id: Optional[str]) -> str:
    """The catalog (account) id that data cells filters need; asked of Lake Formation when not given."""
    if catalog_id:
        return catalog_id
    try:
        arn = lf.get_data_lake_principal().get("DataLakePrincipalIdentifier", "")
    except Exception as e:  # noqa: BLE001 (emulators lack the call)
        arn = ""
        reason = f" ({e})"
    else:
        reason = ""
    match = re.search(r":(\d{12}):", arn)
    if not match:
        raise LakeFormationError("creating a data cells filter needs the catalog (AWS account) id: pass catalog_id"
                                 + reason)
    return match.group(1)


def _table_resource(database: str, table: str, catalog_id: Optional[str]) -> dict:
    return {"Table": {**_cid(catalog_id), "DatabaseName": database, "Name": table}}


def _filter_data(grant: Grant, account: str) -> dict:
    data = {"TableCatalogId": account, "DatabaseName": grant.database, "TableName": grant.table,
            "Name": filter_name(grant.principal, grant.table), "RowFilter": {"FilterExpression": grant.row_filter}}
    if grant.columns is None:
        data["ColumnWildcard"] = {}
    else:
        data["ColumnNames"] = list(grant.columns)
    return data


def _grant_entries(grant: Grant, catalog_id: Optional[str], account: Optional[str]) -> list[dict]:
    table = _table_resource(grant.database, grant.table, catalog_id)
    if grant.columns is None and grant.row_filter is None:
        return [_entry(grant.principal, table, grant.permissions)]
    entries = []
    if "SELECT" in grant.permissions:
        if grant.row_filter is None:
            resource = {"TableWithColumns": {**_cid(catalog_id), "DatabaseName": grant.database, "Name": grant.table,
                                             "ColumnNames": list(grant.columns or ())}}
        else:
            resource = {"DataCellsFilter": {"TableCatalogId": account, "DatabaseName": grant.database,
                                            "TableName": grant.table,
                                            "Name": filter_name(grant.principal, grant.table)}}
        entries.append(_entry(grant.principal, resource, ["SELECT"]))
    if "DESCRIBE" in grant.permissions:
        entries.append(_entry(grant.principal, table, ["DESCRIBE"]))
    return entries


def _revoke_entries(rows: list[dict]) -> list[dict]:
    """The SELECT/DESCRIBE part of each raw row, with its resource exactly as listed."""
    entries = []
    for row in rows:
        permissions = set(row.get("Permissions") or []) & set(READ)
        grantable = set(row.get("PermissionsWithGrantOption") or []) & set(READ)
        if permissions or grantable:
            entries.append(_entry(_principal(row), row["Resource"], permissions | grantable, grantable))
    return entries


def apply(lf, plan: Plan, database: str, tables: Optional[Iterable[str]] = None, *,
          catalog_id: Optional[str] = None, columns_of: Optional[dict[str, list[str]]] = None,
          revoke_unmanaged: bool = True) -> list[str]:
    """Carry out ``plan`` on ``database`` in Lake Formation; returns one line per action taken.

    ``tables``: the managed tables (those ``read_actual`` was given); the tables named by the plan are always
    included. ``columns_of``: as for ``read_actual`` (give the same). ``revoke_unmanaged``: also revoke the
    ``IAM_ALLOWED_PRINCIPALS`` and table-wildcard grants that ``read_actual`` reports as notes (default: yes).

    Before changing anything the current grants are read again: a change whose ``before`` is not what Lake
    Formation holds now raises ``StalePlanError``, and a change for a data lake administrator or for
    ``IAM_ALLOWED_PRINCIPALS`` raises ``LakeFormationError``. Then: revoke (unmanaged grants, the rows behind every
    ``revoke``/``change`` ``before``; the genolake data cells filters they used are deleted), create the data cells
    filters of the new row-filtered grants, and grant every ``add``/``change`` ``after``.
    """
    for change in plan.changes:
        if change.grant.database != database:
            raise LakeFormationError(f"the plan changes {change.grant.database}.{change.grant.table}, outside the "
                                     f"managed database {database}")
    scope = set(tables or ()) | {change.grant.table for change in plan.changes}
    state = _read(lf, database, scope, catalog_id, columns_of)

    refused = sorted({change.grant.principal for change in plan.changes
                      if change.grant.principal in state.admins or change.grant.principal == IAM_ALLOWED_PRINCIPALS})
    if refused:
        raise LakeFormationError(f"the plan changes grants of {', '.join(refused)}: data lake administrators and "
                                 "IAM_ALLOWED_PRINCIPALS are not managed by the policy; remove them from it")
    stale = []
    for change in plan.changes:
        actual = state.grants.get(change.grant.key)
        if actual != change.before:
            stale.append(f"{_who(change.grant)} on {database}.{change.grant.table}: planned from "
                         f"{change.before.describe() if change.before else 'no grant'}, now "
                         f"{actual.describe() if actual else 'no grant'}")
    if stale:
        raise StalePlanError("Lake Formation changed since the plan was made; plan again. " + "; ".join(stale))

    log: list[str] = []
    revokes: list[tuple[dict, str]] = []
    if revoke_unmanaged:
        for note, row in state.strays:
            permissions = set(row.get("Permissions") or [])
            if _principal(row) != IAM_ALLOWED_PRINCIPALS:
                permissions &= set(READ)
            grantable = set(row.get("PermissionsWithGrantOption") or []) & permissions
            if permissions:
                revokes.append((_entry(_principal(row), row["Resource"], permissions, grantable), note))
                log.append(note)

    filters_to_delete: list[dict] = []
    for change in plan.changes:
        if change.action not in ("revoke", "change"):
            continue
        before = change.before
        what = f"{_who(before)} on {database}.{before.table}"
        for entry in _revoke_entries(state.rows.get(before.key, [])):
            revokes.append((entry, what))
            dcf = entry["Resource"].get("DataCellsFilter")
            if dcf and dcf.get("Name") == filter_name(before.principal, before.table):
                filters_to_delete.append(dcf)
        log.append(f"revoke {_who(before)}: {before.describe()}")
    _batch(lf, "batch_revoke_permissions", revokes, catalog_id)

    for dcf in filters_to_delete:
        try:
            lf.delete_data_cells_filter(**{k: dcf[k] for k in ("TableCatalogId", "DatabaseName", "TableName", "Name")
                                           if dcf.get(k)})
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                raise LakeFormationError(f"could not delete data cells filter {dcf.get('Name')} on "
                                         f"{database}.{dcf.get('TableName')}: {e}") from e
        log.append(f"deleted data cells filter {dcf.get('Name')} on {database}.{dcf.get('TableName')}")

    grants: list[tuple[dict, str]] = []
    afters = [change.after for change in plan.changes if change.action in ("add", "change") and change.after]
    account = (_account_id(lf, catalog_id)
               if any(a.row_filter is not None and "SELECT" in a.permissions for a in afters) else None)
    for after in afters:
        if after.row_filter is not None and "SELECT" in after.permissions:
            data = _filter_data(after, account)
            try:
                lf.create_data_cells_filter(TableData=data)
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") != "AlreadyExistsException":
                    raise LakeFormationError(f"could not create data cells filter {data['Name']} for {_who(after)} "
                                             f"on {database}.{after.table}: {e}") from e
                lf.update_data_cells_filter(TableData=data)  # left over from an interrupted apply
            log.append(f"data cells filter {data['Name']} on {database}.{after.table}: rows where {after.row_filter}")
        what = f"{_who(after)} on {database}.{after.table}"
        grants.extend((entry, what) for entry in _grant_entries(after, catalog_id, account))
        log.append(f"grant {_who(after)}: {after.describe()}")
    _batch(lf, "batch_grant_permissions", grants, catalog_id)
    return log


# ---------------------------------------------------------------------------------------------------- LF-tags


def _error_code(e: ClientError) -> str:
    return e.response.get("Error", {}).get("Code", "")


def sync_lf_tags(lf, database: str, classified: dict[str, dict[str, str]], *, catalog_id: Optional[str] = None,
                 tag_key: str = "classification", columns_of: Optional[dict[str, list[str]]] = None) -> list[str]:
    """Make the LF-tag ``tag_key`` exist with every needed value and each classified column carry its value.

    ``classified``: table -> {column: value}. Values are only added to the tag, never deleted (other resources may
    use them). With ``columns_of`` (table -> all its columns), the tag is also removed from columns of those tables
    that carry it but are no longer classified. Idempotent: a second call changes nothing. Returns one line per
    action taken.
    """
    log: list[str] = []
    needed = sorted({value for columns in classified.values() for value in columns.values()})
    if needed:
        try:
            existing = set(lf.get_lf_tag(**_cid(catalog_id), TagKey=tag_key).get("TagValues") or [])
            created = bool(existing)
        except ClientError as e:
            if _error_code(e) != "EntityNotFoundException":
                raise
            existing, created = set(), False
        missing = [value for value in needed if value not in existing]
        if not created:
            lf.create_lf_tag(**_cid(catalog_id), TagKey=tag_key, TagValues=missing[:TAG_VALUES_MAX])
            log.append(f"created LF-tag {tag_key} = {', '.join(missing[:TAG_VALUES_MAX])}")
            missing = missing[TAG_VALUES_MAX:]
        for start in range(0, len(missing), TAG_VALUES_MAX):
            lf.update_lf_tag(**_cid(catalog_id), TagKey=tag_key, TagValuesToAdd=missing[start:start + TAG_VALUES_MAX])
            log.append(f"LF-tag {tag_key}: added values {', '.join(missing[start:start + TAG_VALUES_MAX])}")

    for table in sorted(set(classified) | set(columns_of or {})):
        wanted = classified.get(table, {})
        columns = sorted(set(wanted) | set((columns_of or {}).get(table, [])))
        if not columns:
            continue
        resource = {"TableWithColumns": {**_cid(catalog_id), "DatabaseName": database, "Name": table,
                                         "ColumnNames": columns}}
        current: dict[str, str] = {}
        answer = lf.get_resource_lf_tags(**_cid(catalog_id), Resource=resource, ShowAssignedLFTags=True)
        for column in answer.get("LFTagsOnColumns") or []:
            for tag in column.get("LFTags") or []:
                if tag.get("TagKey") == tag_key and tag.get("TagValues"):
                    current[column["Name"]] = tag["TagValues"][0]
        to_add: dict[str, list[str]] = defaultdict(list)
        to_remove: dict[str, list[str]] = defaultdict(list)
        for column in columns:
            if column in wanted and current.get(column) != wanted[column]:
                to_add[wanted[column]].append(column)
            elif column not in wanted and column in current:
                to_remove[current[column]].append(column)
        for value, cols in sorted(to_add.items()):
            target = {"TableWithColumns": {**resource["TableWithColumns"], "ColumnNames": cols}}
            failures = lf.add_lf_tags_to_resource(**_cid(catalog_id), Resource=target,
                                                  LFTags=[{**_cid(catalog_id), "TagKey": tag_key,
                                                           "TagValues": [value]}]).get("Failures") or []
            if failures:
                errors = "; ".join(f"{(f.get('Error') or {}).get('ErrorCode', 'error')}: "
                                   f"{(f.get('Error') or {}).get('ErrorMessage', '')}" for f in failures)
                raise LakeFormationError(f"could not tag {database}.{table} ({', '.join(cols)}) with "
                                         f"{tag_key}={value}: {errors}")
            log.append(f"tagged {database}.{table} ({', '.join(cols)}) with {tag_key}={value}")
        for value, cols in sorted(to_remove.items()):
            target = {"TableWithColumns": {**resource["TableWithColumns"], "ColumnNames": cols}}
            lf.remove_lf_tags_from_resource(**_cid(catalog_id), Resource=target,
                                            LFTags=[{**_cid(catalog_id), "TagKey": tag_key, "TagValues": [value]}])
            log.append(f"removed {tag_key}={value} from {database}.{table} ({', '.join(cols)})")
    return log
