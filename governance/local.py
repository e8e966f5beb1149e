"""Local enforcement of the policy: per-role views in the local catalog (DuckDB) and role-scoped queries.

The same compiled grants that become Lake Formation permissions on AWS become, locally:

* ``apply``: the applied grants recorded in ``_governance.grants`` and one schema per role, ``role_<role>``, whose
  views ``role_<role>.<table>`` select the allowed columns and rows of ``genolake.<table>`` (tables without a
  grant have no view). Any DuckDB client opening ``query.duckdb`` can use them.
* ``scope_query``: ``genolake query --role R``: the SQL is parsed (sqlglot), every table it reads must be a
  ``genolake`` table the role may SELECT, and each is replaced by the role's projection of it; anything else
  (another schema, a file, a table function, a statement that is not a query) is refused. A column the role may
  not see fails with a message naming the role and the column. An unknown role is an error, never full access.

Plain library (duckdb, sqlglot): no dagster. It guards a shared laptop catalog against mistakes, not against
someone who can read the Parquet files directly; on AWS, Lake Formation is the boundary.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Iterable

import sqlglot
from sqlglot import exp

from .grants import Grant

DATABASE = "genolake"
GRANTS_TABLE = "_governance.grants"


class GovernanceDenied(PermissionError):
    """A role asked for something its grants do not allow (the message names the role and what)."""


def role_schema(role: str) -> str:
    return "role_" + re.sub(r"[^A-Za-z0-9_]", "_", role)


def projection_sql(grant: Grant) -> str:
    """``SELECT <allowed columns> FROM genolake.<table> [WHERE <row filter>]``."""
    columns = "*" if grant.columns is None else ", ".join(f'"{c}"' for c in grant.columns)
    where = f" WHERE {grant.row_filter}" if grant.row_filter else ""
    return f'SELECT {columns} FROM {grant.database}."{grant.table}"{where}'


def _selectable(grants: Iterable[Grant], role: str) -> dict[str, Grant]:
    return {g.table: g for g in grants if g.role == role and "SELECT" in g.permissions}


# -- the applied state ---------------------------------------------------------------------------------------------
def read_applied(con) -> list[Grant]:
    """The grants the last ``apply`` recorded (empty before the first)."""
    schema, table = GRANTS_TABLE.split(".")
    recorded = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?", [schema, table]
    ).fetchone()[0]
    if not recorded:  # no apply yet
        return []
    rows = con.execute(f"SELECT principal, database, table_name, permissions, columns, row_filter, role "
                       f"FROM {GRANTS_TABLE}").fetchall()
    return sorted(Grant(principal=p, database=d, table=t, permissions=tuple(json.loads(perms)),
                        columns=None if cols is None else tuple(json.loads(cols)), row_filter=rf, role=role)
                  for p, d, t, perms, cols, rf, role in rows)


def read_effective(con, columns_of: dict[str, list[str]]) -> list[Grant]:
    """What the catalog enforces now, read from the role views themselves (not from the record of the last
    apply): a view made or changed by hand is drift, and ``apply`` puts it back. Each ``role_<role>.<table>`` view
    gives the role's columns (all of the table's: ``None``) and its row filter; permissions come from the recorded
    grant when there is one (a view alone means SELECT), and recorded grants without SELECT (no view) are kept."""
    from .model import normalise_filter

    recorded = {(g.role, g.table): g for g in read_applied(con)}
    views = con.execute(
        "SELECT schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal "
        "AND schema_name LIKE 'role\\_%' ESCAPE '\\'").fetchall()
    found = []
    for schema, table, sql in views:
        role = schema[len("role_"):]
        columns = [r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
            [schema, table]).fetchall()]
        select = sqlglot.parse_one(sql, read="duckdb").find(exp.Select)
        where = select.args.get("where") if select is not None else None
        row_filter = normalise_filter(where.this.sql(dialect="duckdb")) if where is not None else None
        every = set(columns) == set(columns_of.get(table, ()))
        before = recorded.get((role, table))
        found.append(Grant(principal=before.principal if before else role, database=DATABASE, table=table,
                           permissions=before.permissions if before else ("SELECT",),
                           columns=None if every else tuple(columns), row_filter=row_filter, role=role))
    seen = {(g.role, g.table) for g in found}
    found += [g for key, g in recorded.items() if key not in seen and "SELECT" not in g.permissions]
    return sorted(found)


def apply(con, grants: list[Grant]) -> None:
    """Make the catalog enforce exactly ``grants``: record them and rebuild every role schema (roles no longer
    declared lose their schema). One transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS _governance")
        con.execute(f"CREATE OR REPLACE TABLE {GRANTS_TABLE} (principal VARCHAR, database VARCHAR, "
                    "table_name VARCHAR, permissions VARCHAR, columns VARCHAR, row_filter VARCHAR, role VARCHAR, "
                    "applied_at TIMESTAMP WITH TIME ZONE)")
        now = datetime.now(timezone.utc)
        for g in grants:
            con.execute(f"INSERT INTO {GRANTS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [g.principal, g.database, g.table, json.dumps(list(g.permissions)),
                         None if g.columns is None else json.dumps(list(g.columns)), g.row_filter, g.role, now])
        existing = [r[0] for r in con.execute(
            "SELECT DISTINCT schema_name FROM duckdb_schemas() WHERE schema_name LIKE 'role\\_%' ESCAPE '\\'"
        ).fetchall()]
        for schema in existing:
            con.execute(f'DROP SCHEMA "{schema}" CASCADE')
        for role in sorted({g.role for g in grants}):
            schema = role_schema(role)
            con.execute(f'CREATE SCHEMA "{schema}"')
            for table, grant in sorted(_selectable(grants, role).items()):
                con.execute(f'CREATE VIEW "{schema}"."{table}" AS {projection_sql(grant)}')
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


# -- role-scoped queries -------------------------------------------------------------------------------------------
def scope_query(sql: str, role: str, grants: list[Grant], tables: Iterable[str]) -> str:
    """``sql`` rewritten so it reads only what ``role`` may read; ``GovernanceDenied`` otherwise."""
    roles = {g.role for g in grants}
    if role not in roles:
        raise GovernanceDenied(f"unknown role {role!r}: the policy declares {', '.join(sorted(roles)) or 'no roles'}")
    allowed = _selectable(grants, role)
    known = set(tables)
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise GovernanceDenied(f"role {role!r}: the query does not parse: {exc}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise GovernanceDenied(f"role {role!r}: only a single SELECT query may run under a role")
    tree = statements[0]
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for node in list(tree.find_all(exp.Table)):
        name, schema = node.name, node.db
        if isinstance(node.this, exp.Func) or not name:  # FROM read_parquet(...) and other table functions
            raise GovernanceDenied(f"role {role!r}: table functions are not allowed under a role ({node.sql()})")
        if not schema and name in ctes:
            continue
        if (schema and schema != DATABASE) or node.catalog or name not in known:
            raise GovernanceDenied(f"role {role!r}: {node.sql(dialect='duckdb')} is not a {DATABASE} table")
        if name not in allowed:
            raise GovernanceDenied(f"role {role!r} has no SELECT grant on {DATABASE}.{name}")
        alias = node.alias or name
        subquery = sqlglot.parse_one(projection_sql(allowed[name]), read="duckdb").subquery(alias)
        node.replace(subquery)
    for func in tree.find_all(exp.Anonymous):
        if func.name.lower().startswith(("read_", "parquet_", "iceberg_", "glob", "sniff_")):
            raise GovernanceDenied(f"role {role!r}: {func.name}() reads files: not allowed under a role")
    return tree.sql(dialect="duckdb")


def explain_denied(error: Exception, role: str, grants: list[Grant], columns_of: dict[str, list[str]]) -> str | None:
    """A DuckDB binder error about a column the role may not see, said in the role's terms (else None)."""
    match = re.search(r'Referenced column "?([^"\s]+)"? not found', str(error))
    if not match:
        return None
    column = match.group(1)
    hidden = [t for t, g in _selectable(grants, role).items()
              if g.columns is not None and column in columns_of.get(t, []) and column not in g.columns]
    if not hidden:
        return None
    return (f"role {role!r} may not see column {column!r} of "
            + ", ".join(f"{DATABASE}.{t} (visible: {', '.join(_selectable(grants, role)[t].columns)})"
                        for t in sorted(hidden)))
