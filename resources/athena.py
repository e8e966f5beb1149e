"""The aws face of the SQL engine: Amazon Athena (engine v3) over the Iceberg tables in the Glue Data Catalog.

* ``run(sql, parameters)`` starts a query (database, workgroup, results location, execution parameters), polls
  it with exponential back-off until it ends, and pages its results into a typed ``pyarrow.Table``.
* ``pin(sql, commit_set)`` rewrites the SQL so it reads exactly a recorded snapshot set: every reference to a
  genolake table becomes ``"<database>"."<table>" FOR VERSION AS OF <snapshot id>`` (Iceberg time travel), never
  the tables' heads (which may hold a half-made set, see ``resources/lakehouse.py``). ``query_at`` = run(pin(...)).
* ``query``/``resolve`` find the set through the Glue catalog (``Lakehouse.glue``), read only.

Athena takes execution parameters as SQL literal text: ``'NA12%'`` for a string, ``50`` for a number.
"""

from __future__ import annotations

import datetime as _dt
import decimal
from typing import Any, Optional

import pyarrow as pa

from genolake_assets.transforms.tables import COMMIT_LOG, DATABASE, TABLES

from .aws import aws_errors, client, split_uri
from .interfaces import QueryEngine
from .lakehouse import CommitSet, Lakehouse

RUNNING = ("QUEUED", "RUNNING")
FAILED = ("FAILED", "CANCELLED")
DIALECT = "athena"


class AthenaError(RuntimeError):
    """An Athena query that failed, was cancelled or did not finish in time."""


# -- parameters ----------------------------------------------------------------------------------------------


def sql_literal(value: Any) -> str:
    """One execution parameter as Athena wants it: the text of a SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, decimal.Decimal)):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"parameter {value!r}: Athena has no literal for it")
        return repr(value)
    if isinstance(value, _dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, _dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"parameter {value!r}: expected str, int, float, bool, Decimal, date, datetime or None")


# -- results -> Arrow ----------------------------------------------------------------------------------------


def _base_type(athena_type: str) -> str:
    return athena_type.strip().lower().split("(", 1)[0].strip()


def arrow_type(column: dict) -> pa.DataType:
    """The Arrow type for one ResultSetMetadata.ColumnInfo entry."""
    kind = _base_type(column.get("Type", "varchar"))
    if kind in ("varchar", "char", "string"):
        return pa.string()
    if kind in ("integer", "int"):
        return pa.int32()
    if kind == "smallint":
        return pa.int16()
    if kind == "tinyint":
        return pa.int8()
    if kind == "bigint":
        return pa.int64()
    if kind in ("double", "float", "real"):
        return pa.float64()
    if kind == "decimal":
        precision, scale = int(column.get("Precision") or 0), int(column.get("Scale") or 0)
        return pa.decimal128(precision, scale) if 0 < precision <= 38 else pa.float64()
    if kind == "boolean":
        return pa.bool_()
    if kind == "date":
        return pa.date32()
    if kind == "timestamp with time zone":
        return pa.timestamp("us", tz="UTC")
    if kind.startswith("timestamp"):
        return pa.timestamp("us")
    return pa.string()  # map, array, row, json, varbinary, time, interval...: Athena's text form


def _timestamp(text: str, with_zone: bool) -> _dt.datetime:
    """Athena's text form: ``2026-11-23 10:00:00.123`` (``timestamp``), ``... UTC`` / ``... Europe/Paris`` /
    ``... +01:00`` (``timestamp with time zone``); the latter is returned in UTC."""
    text, zone = text.strip(), None
    if with_zone:
        head, _, tail = text.rpartition(" ")
        if head and ":" in head:
            if tail[:1] in "+-":
                text = head + tail
            elif not tail[:1].isdigit():
                text, zone = head, tail
    value = _dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    if with_zone:
        if value.tzinfo is None:
            from zoneinfo import ZoneInfo

            value = value.replace(tzinfo=_dt.timezone.utc if zone in (None, "UTC", "Z") else ZoneInfo(zone))
        value = value.astimezone(_dt.timezone.utc)
    return value


def _converter(kind: pa.DataType):
    if pa.types.is_string(kind):
        return str
    if pa.types.is_integer(kind):
        return int
    if pa.types.is_floating(kind):
        return float
    if pa.types.is_decimal(kind):
        return decimal.Decimal
    if pa.types.is_boolean(kind):
        return lambda text: text.strip().lower() == "true"
    if pa.types.is_date(kind):
        return _dt.date.fromisoformat
    if pa.types.is_timestamp(kind):
        with_zone = kind.tz is not None
        return lambda text: _timestamp(text, with_zone)
    return str


def to_arrow(columns: list[dict], rows: list[list[Optional[str]]]) -> pa.Table:
    """Athena's text cells (None = NULL) as a typed table with the query's column names in order."""
    types = [arrow_type(c) for c in columns]
    converters = [_converter(t) for t in types]
    arrays = []
    for i, (kind, convert) in enumerate(zip(types, converters)):
        name = columns[i].get("Name") or columns[i].get("Label") or f"_col{i}"
        try:
            values = [None if row[i] is None else convert(row[i]) for row in rows]
        except (ValueError, decimal.InvalidOperation) as exc:
            raise AthenaError(f"column {name!r} ({columns[i].get('Type')}): cannot read a value as {kind}: "
                              f"{exc}") from exc
        arrays.append(pa.array(values, type=kind))
    names = [c.get("Name") or c.get("Label") or f"_col{i}" for i, c in enumerate(columns)]
    return pa.Table.from_arrays(arrays, names=names) if names else pa.table({})


# -- one query -----------------------------------------------------------------------------------------------


def execute(athena, sql: str, parameters: list | None = None, *, database: str, workgroup: str, results_uri: str,
            poll_initial_seconds: float = 0.2, poll_max_seconds: float = 5.0, timeout_seconds: float = 1800,
            what: str = "Athena query") -> pa.Table:
    """Run ``sql`` on Athena through the ``athena`` boto3 client; the result as a typed Arrow table."""
    from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential

    request = {
        "QueryString": sql,
        "QueryExecutionContext": {"Database": database},
        "WorkGroup": workgroup,
        "ResultConfiguration": {"OutputLocation": results_uri},
    }
    if parameters:
        request["ExecutionParameters"] = [sql_literal(p) for p in parameters]
    with aws_errors(f"{what}: StartQueryExecution in workgroup {workgroup}"):
        query_id = athena.start_query_execution(**request)["QueryExecutionId"]

    def poll() -> dict:
        with aws_errors(f"{what}: GetQueryExecution {query_id}"):
            return athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]

    try:
        execution = Retrying(
            wait=wait_exponential(multiplier=poll_initial_seconds, min=poll_initial_seconds, max=poll_max_seconds),
            stop=stop_after_delay(timeout_seconds),
            retry=retry_if_result(lambda e: e["Status"]["State"] in RUNNING),
        )(poll)
    except RetryError as exc:
        try:
            with aws_errors(f"{what}: StopQueryExecution {query_id}"):
                athena.stop_query_execution(QueryExecutionId=query_id)
        except Exception:  # the timeout is the error to report; stopping is best effort
            pass
        state = exc.last_attempt.result()["Status"]["State"] if not exc.last_attempt.failed else "unknown"
        raise AthenaError(f"{what} {query_id} did not finish within {timeout_seconds:g} s (last state {state}); "
                          "it was asked to stop") from None

    status = execution["Status"]
    state = status["State"]
    if state in FAILED:
        reason = status.get("StateChangeReason") or (status.get("AthenaError") or {}).get("ErrorMessage")
        raise AthenaError(f"{what} {query_id} {state}: {reason or 'Athena gave no reason'}")
    if state != "SUCCEEDED":
        raise AthenaError(f"{what} {query_id}: unexpected state {state}")

    # Athena repeats the column names as the first row of the first page, for SELECT (DML) results only.
    header = execution.get("StatementType", "DML") == "DML"
    columns: list[dict] | None = None
    rows: list[list[Optional[str]]] = []
    with aws_errors(f"{what}: GetQueryResults {query_id}"):
        for number, page in enumerate(athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id)):
            result = page["ResultSet"]
            if columns is None:
                columns = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            page_rows = result.get("Rows", [])
            if number == 0 and header and page_rows:
                page_rows = page_rows[1:]
            for row in page_rows:
                data = row.get("Data", [])
                rows.append([d.get("VarCharValue") for d in data] + [None] * (len(columns) - len(data)))
    return to_arrow(columns or [], rows)


# -- pinning a query to a snapshot set -----------------------------------------------------------------------


KNOWN_TABLES = frozenset([*TABLES, COMMIT_LOG.name])


def pin_sql(sql: str, database: str, commit_set: CommitSet | None, source_database: str = DATABASE) -> str:
    """``sql`` with every genolake table reference pointed at ``database`` and, when ``commit_set`` is given,
    read at the set's snapshot (``FOR VERSION AS OF <id>``).

    References rewritten: ``<source_database>.<table>`` (any table name) and unqualified names of known genolake
    tables that no CTE of the statement shadows. A table that has no snapshot in the set had no rows in it: its
    reference becomes an empty relation with the table's columns (``(SELECT * FROM "db"."t" WHERE false) AS t``),
    so the query neither fails nor reads rows committed after the set. The commit log itself is never pinned
    (it is the record of the sets), nor is a write target (INSERT/CREATE/DELETE/UPDATE/MERGE).
    """
    import sqlglot
    from sqlglot import exp

    try:
        statements = sqlglot.parse(sql, read=DIALECT)
    except sqlglot.errors.ParseError as exc:
        raise AthenaError(f"cannot parse the query to pin it to a snapshot set: {exc}") from exc
    out = []
    for tree in statements:
        if tree is None:
            continue
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}

        def rewrite(node):
            if not isinstance(node, exp.Table) or not node.name or node.args.get("version") is not None:
                return node
            db, catalog = node.text("db"), node.text("catalog")
            if catalog:
                return node
            if db:
                if db.lower() != source_database.lower():
                    return node
            elif node.name.lower() not in KNOWN_TABLES or node.name.lower() in ctes:
                return node
            name = node.name
            table = exp.Table(this=exp.to_identifier(name, quoted=True), db=exp.to_identifier(database, quoted=True))
            alias = node.args.get("alias")
            target = isinstance(node.parent, (exp.Insert, exp.Create, exp.Delete, exp.Update, exp.Merge, exp.Schema))
            if commit_set is not None and name.lower() != COMMIT_LOG.name and not target:
                snapshot = commit_set.snapshot(name)
                if snapshot is None:
                    empty = exp.select("*").from_(table).where(exp.false())
                    return exp.Subquery(this=empty, alias=alias.copy() if alias else exp.TableAlias(
                        this=exp.to_identifier(name)))
                table.set("version", exp.Version(this="VERSION", kind="AS OF",
                                                 expression=exp.Literal.number(int(snapshot))))
            if alias:
                table.set("alias", alias.copy())
            for key in ("joins", "laterals", "pivots", "hints", "sample"):
                if node.args.get(key):
                    table.set(key, node.args[key])
            return table

        out.append(tree.transform(rewrite).sql(dialect=DIALECT))
    return ";\n".join(out)


# -- the resource --------------------------------------------------------------------------------------------


class AthenaQueryEngine(QueryEngine):
    """SQL over the Glue catalog's Iceberg tables with Athena, at a recorded snapshot set."""

    database: str
    workgroup: str
    results_uri: str
    region: Optional[str] = None
    warehouse_uri: Optional[str] = None
    poll_initial_seconds: float = 0.2
    poll_max_seconds: float = 5.0
    timeout_seconds: float = 1800

    def _athena(self):
        return client("athena", self.region)

    def run(self, sql: str, parameters: list | None = None) -> pa.Table:
        """Run ``sql`` as given (no pinning) and return the typed result."""
        split_uri(self.results_uri, "results_uri")
        return execute(self._athena(), sql, parameters, database=self.database, workgroup=self.workgroup,
                       results_uri=self.results_uri, poll_initial_seconds=self.poll_initial_seconds,
                       poll_max_seconds=self.poll_max_seconds, timeout_seconds=self.timeout_seconds)

    def pin(self, sql: str, commit_set: CommitSet | None) -> str:
        return pin_sql(sql, self.database, commit_set)

    def query_at(self, sql: str, parameters: list | None, commit_set: CommitSet) -> pa.Table:
        """Run ``sql`` over the tables exactly as ``commit_set`` recorded them."""
        return self.run(self.pin(sql, commit_set), parameters)

    def lakehouse(self) -> Lakehouse:
        if not self.warehouse_uri:
            raise AthenaError("AthenaQueryEngine.warehouse_uri is not set: it is needed to find snapshot sets")
        from .catalog import glue_lakehouse

        return glue_lakehouse(self.warehouse_uri, self.database, self.region)

    def current_set(self) -> CommitSet:
        with aws_errors(f"reading the commit log of Glue database {self.database}"):
            return self.lakehouse().current_set()

    def resolve(self, as_of: str | None) -> CommitSet:
        """The snapshot set a query reads: the newest recorded one, or the one ``--as-of`` names."""
        with aws_errors(f"reading the commit log of Glue database {self.database}"):
            lakehouse = self.lakehouse()
            return lakehouse.set_as_of(as_of) if as_of else lakehouse.current_set()

    def describe(self, table: str, commit_set: CommitSet | None = None) -> list[tuple[str, str, Optional[str]]]:
        """(name, type, comment) of every column Glue records for ``table`` (catalog metadata; Glue keeps the
        current schema only, so ``commit_set`` does not change the answer)."""
        with aws_errors(f"Glue GetTable {self.database}.{table}"):
            found = client("glue", self.region).get_table(DatabaseName=self.database, Name=table)["Table"]
        columns = found.get("StorageDescriptor", {}).get("Columns", [])
        return [(c["Name"], c.get("Type", ""), c.get("Comment")) for c in columns]
