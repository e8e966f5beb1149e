"""Local enforcement of the policy: per-role views in the local catalog (DuckDB) and role-scoped queries.

The same compiled grants that become Lake Formation permissions on AWS become, locally:

* ``apply``: the applied grants recorded in ``_governance.grants`` and one schema per role, ``role_<role>``, whose
  views ``role_<role>.<table>`` select the allowed columns and rows of ``genolake.<table>`` (tables without a
  grant have no view). Any DuckDB client opening ``query.duckdb`` can use them.
* ``check_query``: ``genolake query --role R``, first guard: the SQL is parsed (sqlglot) and checked by
  allow-list: every source of every scope must be a CTE visible in that scope or a ``genolake`` table the role
  may SELECT; table functions (in any position), unknown calls, configuration readers and statements are refused
  with one line naming what. An unknown role is an error, never full access.
* second guard (``resources.sql_views.role_connection``): the checked query runs on an in-memory DuckDB holding
  only the role's views, file access limited to their data files, configuration locked. A column the role may
  not see fails there, said in the role's terms by ``explain_denied``.
* ``scope_query``: the checked query, optionally rewritten with each table replaced by the role's projection
  (for an engine that holds the whole catalog).

Plain library (duckdb, sqlglot): no dagster. Through ``genolake query --role`` a role reads only its tables,
columns and rows; someone who can open ``query.duckdb`` or the warehouse folder reads everything (the operating
system's file permissions are the boundary there); on AWS, Lake Formation is the boundary.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from functools import lru_cache
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


def selectable(grants: Iterable[Grant], role: str) -> dict[str, Grant]:
    """The role's SELECT grants by table."""
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
    from .model import FilterError, normalise_filter

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
        row_filter = None
        if where is not None:
            text = where.this.sql(dialect="duckdb")
            try:
                row_filter = normalise_filter(text)
            except FilterError:  # a view changed by hand beyond the bounds: drift, shown as it is
                row_filter = text
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
            for table, grant in sorted(selectable(grants, role).items()):
                con.execute(f'CREATE VIEW "{schema}"."{table}" AS {projection_sql(grant)}')
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


# -- role-scoped queries -------------------------------------------------------------------------------------------
MAX_QUERY_CHARS = 100_000  # a role query longer than this is refused before it is parsed
DENIED_SCALARS = frozenset({"current_setting", "getvariable", "getenv"})  # configuration and environment
_STATEMENTS = (exp.DDL, exp.DML, exp.Command, exp.Set, exp.Pragma, exp.Copy, exp.Use, exp.Describe,
               exp.Summarize, exp.Transaction, exp.Commit, exp.Rollback, exp.Attach, exp.Detach, exp.Install,
               exp.LoadData)
_HEAD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(")


@lru_cache(maxsize=1)
def duckdb_functions() -> tuple[frozenset[str], frozenset[str]]:
    """(table functions, other functions) of this DuckDB, by name, from its own catalog: what a role query may
    call is decided from what DuckDB actually has, not from a list of names someone thought of."""
    import duckdb

    con = duckdb.connect()
    try:
        rows = con.execute("SELECT DISTINCT lower(function_name), function_type FROM duckdb_functions()").fetchall()
    finally:
        con.close()
    table = frozenset(n for n, kind in rows if kind in ("table", "table_macro", "pragma"))
    scalar = frozenset(n for n, kind in rows if kind in ("scalar", "aggregate", "window", "macro"))
    return table, scalar - DENIED_SCALARS


def _excerpt(node: exp.Expression) -> str:
    """A node of the query as a message quotes it: its SQL, cut as every governance message cuts input."""
    from .model import clip

    return clip(node.sql(dialect="duckdb"))


def _function_name(node: exp.Func) -> str | None:
    """The name DuckDB would call for ``node`` (None for syntax that is not a call, e.g. CASE)."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    match = _HEAD.match(node.sql(dialect="duckdb"))
    return match.group(1).lower() if match else None


def check_query(sql: str, role: str, grants: list[Grant], tables: Iterable[str]) -> tuple[exp.Query, list[exp.Table]]:
    """Parse ``sql`` and check it reads only what ``role`` may read, by allow-list; ``GovernanceDenied`` with one
    line naming what is refused otherwise. Returns the tree and its ``genolake`` table nodes.

    * one statement, and it is a query (SELECT / set operation); no statement of any kind inside it;
    * every source of every scope (sqlglot's scope analysis) is a CTE visible *in that scope* or
      ``genolake.<table>`` (or its bare name) the role may SELECT; any other name (a system view, another
      schema, a quoted file path, a CTE name used outside its scope) is refused, and so is a table node the
      scope analysis did not place;
    * no table function in any position (FROM, JOIN, LATERAL, a subquery, a scalar call): the table functions
      are DuckDB's own list (``duckdb_functions()``), and every other call must be a DuckDB scalar, aggregate,
      window function or macro, minus the ones that read configuration (``DENIED_SCALARS``).
    """
    from sqlglot.optimizer.scope import traverse_scope

    roles = {g.role for g in grants}
    if role not in roles:
        raise GovernanceDenied(f"unknown role {role!r}: the policy declares {', '.join(sorted(roles)) or 'no roles'}")
    allowed = selectable(grants, role)
    known = set(tables)
    if len(sql) > MAX_QUERY_CHARS:
        raise GovernanceDenied(f"role {role!r}: the query is {len(sql):,} characters; the limit is "
                               f"{MAX_QUERY_CHARS:,}")
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise GovernanceDenied(f"role {role!r}: the query does not parse: {first}") from None
    except RecursionError:
        raise GovernanceDenied(f"role {role!r}: the query is nested too deeply to check") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise GovernanceDenied(f"role {role!r}: only a single SELECT query may run under a role")
    tree = statements[0]
    table_functions, functions = duckdb_functions()
    try:
        nodes = list(tree.walk())
        for node in nodes:
            if isinstance(node, _STATEMENTS):
                raise GovernanceDenied(f"role {role!r}: {node.key.upper()} is not allowed under a role "
                                       f"({_excerpt(node)})")
            if isinstance(node, exp.Lateral) and not isinstance(node.this, (exp.Subquery, exp.Unnest, exp.Explode)):
                raise GovernanceDenied(f"role {role!r}: table functions are not allowed under a role "
                                       f"({_excerpt(node)})")
            if isinstance(node, exp.Func) and not isinstance(node, (exp.Unnest, exp.Explode)):
                name = _function_name(node)
                if name is None:
                    continue
                if isinstance(node.parent, (exp.Table, exp.Lateral)) or name in table_functions and name not in functions:
                    raise GovernanceDenied(f"role {role!r}: table functions are not allowed under a role "
                                           f"({name}())")
                # a call sqlglot does not know must be one of DuckDB's own functions; one it knows (COUNT,
                # EXISTS, CAST, ...) is syntax or a DuckDB function, and only the configuration readers are out
                if name in DENIED_SCALARS or (isinstance(node, exp.Anonymous) and name not in functions):
                    raise GovernanceDenied(f"role {role!r}: function {name}() is not allowed under a role")
        placed: list[exp.Table] = []
        seen: set[int] = set()
        for scope in traverse_scope(tree):
            for node in scope.tables:
                seen.add(id(node))
                if not isinstance(node.this, exp.Identifier):
                    raise GovernanceDenied(f"role {role!r}: table functions are not allowed under a role "
                                           f"({_excerpt(node)})")
                name, schema = node.name, node.db
                if not schema and not node.catalog and name in scope.cte_sources:
                    continue  # a CTE visible in this scope
                if node.catalog or (schema and schema != DATABASE) or name not in known:
                    raise GovernanceDenied(f"role {role!r}: {_excerpt(node)} is not a {DATABASE} table")
                if name not in allowed:
                    raise GovernanceDenied(f"role {role!r} has no SELECT grant on {DATABASE}.{name}")
                placed.append(node)
    except RecursionError:
        raise GovernanceDenied(f"role {role!r}: the query is nested too deeply to check") from None
    except GovernanceDenied:
        raise
    except sqlglot.errors.SqlglotError as exc:  # the scope analysis could not follow the query
        raise GovernanceDenied(f"role {role!r}: the query's sources cannot be resolved: "
                               f"{str(exc).splitlines()[0][:200]}") from None
    for node in nodes:
        if isinstance(node, exp.Table) and id(node) not in seen:
            raise GovernanceDenied(f"role {role!r}: {_excerpt(node)} is a source the checker cannot place; "
                                   "rewrite the query with plain FROM / JOIN / WITH")
    return tree, placed


def scope_query(sql: str, role: str, grants: list[Grant], tables: Iterable[str], *, rewrite: bool = True) -> str:
    """``sql`` checked (``check_query``) and, with ``rewrite``, each ``genolake`` table replaced by the role's
    projection of it (columns and row filter) for an engine that holds the whole catalog. Without ``rewrite``
    the checked query is returned for a connection that holds only the role's views (``role_connection``)."""
    tree, placed = check_query(sql, role, grants, tables)
    if rewrite:
        allowed = selectable(grants, role)
        for node in placed:
            alias = node.alias or node.name
            subquery = sqlglot.parse_one(projection_sql(allowed[node.name]), read="duckdb").subquery(alias)
            columns = node.args.get("alias").args.get("columns") if node.args.get("alias") else None
            if columns:  # FROM t AS x(a, b): keep the column aliases
                subquery.set("alias", node.args["alias"].copy())
            node.replace(subquery)
    return tree.sql(dialect="duckdb")


def explain_denied(error: Exception, role: str, grants: list[Grant], columns_of: dict[str, list[str]]) -> str | None:
    """A DuckDB binder error about a column the role may not see, said in the role's terms (else None)."""
    match = re.search(r'Referenced column "?([^"\s]+)"? not found', str(error))
    if not match:
        return None
    column = match.group(1)
    hidden = [t for t, g in selectable(grants, role).items()
              if g.columns is not None and column in columns_of.get(t, []) and column not in g.columns]
    if not hidden:
        return None
    return (f"role {role!r} may not see column {column!r} of "
            + ", ".join(f"{DATABASE}.{t} (visible: {', '.join(selectable(grants, role)[t].columns)})"
                        for t in sorted(hidden)))
