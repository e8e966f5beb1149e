"""The aws-mode query engine (resources/athena.py) against a moto server.

moto runs no SQL: every query SUCCEEDS, and its results are whatever was queued through moto's API
(``POST /moto-api/static/athena/query-results``); moto returns them in ONE page whatever their size and has no
FAILED state. Its state manager (``/moto-api/state-manager/set-transition``) keeps a query QUEUED/RUNNING for a
number of GetQueryExecution calls, and StopQueryExecution makes it CANCELLED: the back-off loop, cancellation and
the timeout are exercised through those. Athena's multi-page results (header row on the first page only) and a
FAILED query with its StateChangeReason are given to a real boto3 client through botocore's Stubber.
"""

import json
import threading
import time
import urllib.request
from datetime import date, datetime, timezone
from decimal import Decimal

import boto3
import pyarrow as pa
import pytest
import sqlglot
from botocore.stub import Stubber
from sqlglot import exp

from genolake_assets.transforms.report import REPORT_INPUTS, drug_response_sql
from resources.athena import AthenaError, AthenaQueryEngine, execute, pin_sql
from resources.aws import AwsError
from resources.lakehouse import EMPTY, CommitSet

from .conftest import REGION

DATABASE = "genolake_test"
WORKGROUP = "genolake-wg"
RESULTS = "s3://genolake-athena-results/queries"


def _post(endpoint: str, path: str, body: dict) -> None:
    request = urllib.request.Request(f"{endpoint}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201)


def seed(endpoint: str, columns: list[tuple[str, str]], rows: list[list], header: bool = True) -> None:
    """Queue one result set for the next query, as Athena would return it (header row first for SELECT)."""
    def row(values):
        return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}

    column_info = [{"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name,
                    "Type": kind, "Precision": 38 if kind == "decimal" else 0, "Scale": 2 if kind == "decimal" else 0,
                    "Nullable": "UNKNOWN", "CaseSensitive": kind == "varchar"} for name, kind in columns]
    _post(endpoint, "/moto-api/static/athena/query-results",
          {"account_id": "123456789012", "region": REGION,
           "results": [{"rows": ([row([n for n, _ in columns])] if header else []) + [row(r) for r in rows],
                        "column_info": column_info}]})


@pytest.fixture
def transitions(aws):
    """Set moto's state-manager transition for Athena executions; unset after the test (reset does not)."""
    def set_transition(transition: dict):
        _post(aws, "/moto-api/state-manager/set-transition",
              {"model_name": "athena::execution", "transition": transition})
    yield set_transition
    _post(aws, "/moto-api/state-manager/unset-transition", {"model_name": "athena::execution"})


@pytest.fixture
def engine(aws):
    boto3.client("athena", region_name=REGION).create_work_group(Name=WORKGROUP)
    return AthenaQueryEngine(database=DATABASE, workgroup=WORKGROUP, results_uri=RESULTS, region=REGION,
                             poll_initial_seconds=0.01, poll_max_seconds=0.05, timeout_seconds=10)


def _executions() -> list[dict]:
    athena = boto3.client("athena", region_name=REGION)
    ids = athena.list_query_executions(WorkGroup=WORKGROUP)["QueryExecutionIds"]
    return [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]


COLUMNS = [("name", "varchar"), ("n", "integer"), ("small", "smallint"), ("big", "bigint"), ("x", "double"),
           ("amount", "decimal"), ("ok", "boolean"), ("day", "date"), ("at", "timestamp"),
           ("at_tz", "timestamp with time zone"), ("tags", "array(varchar)"), ("props", "map(varchar, bigint)")]


def test_run_sends_the_query_and_types_the_results(engine, aws):
    seed(aws, COLUMNS, [
        ["O'Brien", "7", "-1", "9007199254740993", "0.25", "12.34", "true", "2026-11-23", "2026-11-23 10:00:00.123",
         "2026-11-23 10:00:00.000 UTC", "[a, b]", "{x=1}"],
        [None] * len(COLUMNS),
        ["", "-2147483648", "2", "-1", "1e300", "-0.01", "false", "1970-01-01", "1970-01-01 00:00:00.000",
         "2026-11-23 11:00:00.000 Europe/Paris", "[]", "{}"],
    ])
    result = engine.run("SELECT * FROM genolake_test.t WHERE name LIKE ? AND n < ? AND ok = ?", ["O'B%", 50, True])

    (execution,) = _executions()
    assert execution["Query"] == "SELECT * FROM genolake_test.t WHERE name LIKE ? AND n < ? AND ok = ?"
    assert execution["QueryExecutionContext"] == {"Database": DATABASE}
    assert execution["WorkGroup"] == WORKGROUP
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(RESULTS + "/")
    assert execution["ExecutionParameters"] == ["'O''B%'", "50", "true"]
    assert execution["Status"]["State"] == "SUCCEEDED"

    assert result.column_names == [n for n, _ in COLUMNS]
    assert result.schema.types == [pa.string(), pa.int32(), pa.int16(), pa.int64(), pa.float64(),
                                   pa.decimal128(38, 2), pa.bool_(), pa.date32(), pa.timestamp("us"),
                                   pa.timestamp("us", tz="UTC"), pa.string(), pa.string()]
    rows = result.to_pylist()
    assert len(rows) == 3  # the header row is not data
    assert rows[0] == {
        "name": "O'Brien", "n": 7, "small": -1, "big": 9007199254740993, "x": 0.25, "amount": Decimal("12.34"),
        "ok": True, "day": date(2026, 11, 23), "at": datetime(2026, 11, 23, 10, 0, 0, 123000),
        "at_tz": datetime(2026, 11, 23, 10, tzinfo=timezone.utc), "tags": "[a, b]", "props": "{x=1}"}
    assert rows[1] == {n: None for n, _ in COLUMNS}  # a Datum without VarCharValue is NULL
    assert rows[2]["name"] == "" and rows[2]["n"] == -2147483648 and rows[2]["ok"] is False
    assert rows[2]["at_tz"] == datetime(2026, 11, 23, 10, tzinfo=timezone.utc)


def test_a_large_result_is_read_whole(engine, aws):
    """More rows than Athena's 1000-row page. moto returns them in one page (it ignores MaxResults); Athena's
    paging is in test_pages_are_joined_and_only_the_first_has_a_header."""
    seed(aws, [("i", "bigint"), ("s", "varchar")], [[str(i), None if i % 7 == 0 else f"r{i}"] for i in range(2500)])
    result = engine.run("SELECT i, s FROM big")
    assert result.num_rows == 2500
    assert result.column("i").to_pylist() == list(range(2500))
    assert result.column("s").null_count == len(range(0, 2500, 7))


def test_no_rows_and_no_parameters(engine, aws):
    seed(aws, [("a", "integer")], [])
    result = engine.run("SELECT 1 AS a WHERE false")
    assert result.num_rows == 0 and result.schema == pa.schema([("a", pa.int32())])
    (execution,) = _executions()
    assert "ExecutionParameters" not in execution


def test_polls_with_backoff_until_the_query_ends(engine, aws, transitions):
    transitions({"progression": "manual", "times": 3})  # QUEUED for 3 polls, RUNNING for 3, then SUCCEEDED
    seed(aws, [("a", "integer")], [["1"]])
    athena = boto3.client("athena", region_name=REGION)
    polls = []
    athena.meta.events.register("before-call.athena.GetQueryExecution", lambda **kw: polls.append(time.monotonic()))
    result = execute(athena, "SELECT 1 AS a", database=DATABASE, workgroup=WORKGROUP, results_uri=RESULTS,
                     poll_initial_seconds=0.02, poll_max_seconds=0.08, timeout_seconds=10)
    assert result.to_pylist() == [{"a": 1}]
    assert len(polls) >= 6
    waits = [b - a for a, b in zip(polls, polls[1:])]
    assert waits[0] >= 0.015 and max(waits) >= 0.07  # grows from the initial wait to the cap
    assert max(waits) < 1.0


def test_a_cancelled_query_is_an_error_naming_it(engine, aws, transitions):
    transitions({"progression": "manual", "times": 10 ** 6})  # never leaves QUEUED by itself
    outcome = {}

    def run():
        try:
            engine.run("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    athena = boto3.client("athena", region_name=REGION)
    deadline = time.monotonic() + 5
    while not (ids := athena.list_query_executions(WorkGroup=WORKGROUP)["QueryExecutionIds"]):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    athena.stop_query_execution(QueryExecutionId=ids[0])  # another user cancels it
    worker.join(10)
    assert not worker.is_alive()
    error = outcome["error"]
    assert isinstance(error, AthenaError)
    assert ids[0] in str(error) and "CANCELLED" in str(error)


def test_a_query_that_does_not_finish_in_time_is_stopped(engine, aws, transitions):
    transitions({"progression": "manual", "times": 10 ** 6})
    slow = engine.model_copy(update={"timeout_seconds": 0.3})
    started = time.monotonic()
    with pytest.raises(AthenaError, match=r"did not finish within 0.3 s \(last state QUEUED\)") as error:
        slow.run("SELECT 1")
    assert time.monotonic() - started < 3
    (execution,) = _executions()
    assert execution["QueryExecutionId"] in str(error.value)
    assert execution["Status"]["State"] == "CANCELLED"  # it was asked to stop


def _stubbed():
    athena = boto3.client("athena", region_name=REGION)
    return athena, Stubber(athena)


def _execution(state: str, reason: str | None = None) -> dict:
    status = {"State": state, **({"StateChangeReason": reason} if reason else {})}
    return {"QueryExecution": {"QueryExecutionId": "q-1", "StatementType": "DML", "Status": status}}


def test_a_failed_query_names_athenas_reason(aws):
    """moto has no FAILED state: Athena's answer is given to a real client through botocore's Stubber."""
    athena, stub = _stubbed()
    stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    stub.add_response("get_query_execution", _execution("RUNNING"))
    stub.add_response("get_query_execution", _execution(
        "FAILED", "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved"))
    with stub, pytest.raises(AthenaError) as error:
        execute(athena, "SELECT nope", database=DATABASE, workgroup=WORKGROUP, results_uri=RESULTS,
                poll_initial_seconds=0.01, poll_max_seconds=0.01)
    assert str(error.value) == ("Athena query q-1 FAILED: COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be "
                                "resolved")
    stub.assert_no_pending_responses()


def test_pages_are_joined_and_only_the_first_has_a_header(aws):
    """Athena pages results (1000 rows a page, NextToken) and repeats the column names only on the first page;
    moto does not page, so the pages are given to a real client through botocore's Stubber."""
    athena, stub = _stubbed()
    columns = [{"Name": "id", "Type": "bigint"}, {"Name": "label", "Type": "varchar"}]

    def page(values, token=None):
        rows = [{"Data": [{"VarCharValue": a}, {} if b is None else {"VarCharValue": b}]} for a, b in values]
        out = {"ResultSet": {"Rows": rows, "ResultSetMetadata": {"ColumnInfo": columns}}}
        return {**out, "NextToken": token} if token else out

    first = [("id", "label")] + [(str(i), f"v{i}") for i in range(999)]
    second = [(str(i), None if i == 1000 else f"v{i}") for i in range(999, 1999)]
    third = [("1999", "v1999")]
    stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    stub.add_response("get_query_execution", _execution("SUCCEEDED"))
    stub.add_response("get_query_results", page(first, "t1"), {"QueryExecutionId": "q-1"})
    stub.add_response("get_query_results", page(second, "t2"), {"QueryExecutionId": "q-1", "NextToken": "t1"})
    stub.add_response("get_query_results", page(third), {"QueryExecutionId": "q-1", "NextToken": "t2"})
    with stub:
        result = execute(athena, "SELECT id, label FROM t", database=DATABASE, workgroup=WORKGROUP,
                         results_uri=RESULTS)
    stub.assert_no_pending_responses()
    assert result.num_rows == 999 + 1000 + 1
    assert result.schema == pa.schema([("id", pa.int64()), ("label", pa.string())])
    assert result.column("id").to_pylist() == list(range(2000))
    assert result.column("label").null_count == 1
    assert result.slice(0, 1).to_pylist() == [{"id": 0, "label": "v0"}]


def test_a_header_like_row_on_a_later_page_is_data(aws):
    """Only the first page carries the header: a row equal to the column names on a later page is data."""
    athena, stub = _stubbed()
    columns = [{"Name": "id", "Type": "varchar"}]
    stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    stub.add_response("get_query_execution", _execution("SUCCEEDED"))
    stub.add_response("get_query_results", {"ResultSet": {"Rows": [{"Data": [{"VarCharValue": "id"}]}],
                                                          "ResultSetMetadata": {"ColumnInfo": columns}},
                                            "NextToken": "t1"})
    stub.add_response("get_query_results", {"ResultSet": {"Rows": [{"Data": [{"VarCharValue": "id"}]}],
                                                          "ResultSetMetadata": {"ColumnInfo": columns}}})
    with stub:
        result = execute(athena, "SELECT 'id' AS id", database=DATABASE, workgroup=WORKGROUP, results_uri=RESULTS)
    assert result.to_pylist() == [{"id": "id"}]


def test_an_unreachable_endpoint_is_named(monkeypatch, aws):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once the socket is closed
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed)
    engine = AthenaQueryEngine(database=DATABASE, workgroup=WORKGROUP, results_uri=RESULTS, region=REGION)
    started = time.monotonic()
    with pytest.raises(AwsError, match="cannot reach " + closed):
        engine.run("SELECT 1")
    assert time.monotonic() - started < 20


def _versions(sql: str) -> dict[str, int]:
    tree = sqlglot.parse_one(sql, read="athena")
    return {t.name: int(t.args["version"].expression.name) for t in tree.find_all(exp.Table) if t.args.get("version")}


def test_pin_reads_every_report_input_at_its_snapshot():
    commit_set = CommitSet("c1", None, "ingest", {"annotated_variants": 101, "calls": 202, "samples": 303,
                                                  "sites": 404})
    pinned = pin_sql(drug_response_sql(), DATABASE, commit_set)
    for table, snapshot in zip(REPORT_INPUTS, (101, 202, 303)):
        assert f'"{DATABASE}"."{table}" FOR VERSION AS OF {snapshot}' in pinned
    assert "genolake." not in pinned
    assert _versions(pinned) == {"annotated_variants": 101, "calls": 202, "samples": 303}  # parses back
    assert pinned.count("?") == drug_response_sql().count("?")  # parameters untouched, in order
    # aliases are kept after the version clause, CTE names are not tables
    assert f'"{DATABASE}"."calls" FOR VERSION AS OF 202 AS c' in pinned
    assert "FROM variants AS v" in pinned


def test_pin_an_empty_table_a_qualified_name_and_no_set():
    commit_set = CommitSet("c1", None, "ingest", {"sites": 7})
    sql = ("WITH calls AS (SELECT 1 AS x) SELECT * FROM sites, samples s, genolake.clinvar, calls, "
           "other.sites, genolake.commit_log")
    pinned = pin_sql(sql, DATABASE, commit_set)
    tree = sqlglot.parse_one(pinned, read="athena")
    assert _versions(pinned) == {"sites": 7}
    # absent from the set: the table had no rows then -> an empty relation with its columns, same alias
    assert f'(SELECT * FROM "{DATABASE}"."samples" WHERE FALSE) AS s' in pinned
    assert f'(SELECT * FROM "{DATABASE}"."clinvar" WHERE FALSE) AS clinvar' in pinned
    assert "FROM calls" not in pinned and ", calls," in pinned  # the CTE stays the CTE
    assert "other.sites" in pinned  # another database is not ours
    assert f'"{DATABASE}"."commit_log"' in pinned and "commit_log\" FOR" not in pinned
    assert tree is not None
    unpinned = pin_sql("SELECT * FROM genolake.sites JOIN calls USING (x)", DATABASE, None)
    assert unpinned == f'SELECT * FROM "{DATABASE}"."sites" JOIN "{DATABASE}"."calls" USING (x)'
    written = pin_sql("INSERT INTO genolake.sites SELECT * FROM genolake.calls", DATABASE, commit_set)
    assert written == (f'INSERT INTO "{DATABASE}"."sites" SELECT * FROM (SELECT * FROM "{DATABASE}"."calls" '
                       'WHERE FALSE) AS calls')  # a write target is never pinned
    everything_empty = pin_sql("SELECT count(*) FROM genolake.sites", DATABASE, EMPTY)
    assert everything_empty == f'SELECT COUNT(*) FROM (SELECT * FROM "{DATABASE}"."sites" WHERE FALSE) AS sites'


def test_query_at_sends_the_pinned_sql(engine, aws):
    seed(aws, [("rank", "integer"), ("genotype0", "smallint"), ("frequency", "double")], [["1", "0", "0.5"]])
    commit_set = CommitSet("c1", None, "ingest", {"annotated_variants": 1, "calls": 2, "samples": 3})
    result = engine.query_at(drug_response_sql(), ["NA12%", 50], commit_set)
    assert result.to_pylist() == [{"rank": 1, "genotype0": 0, "frequency": 0.5}]
    (execution,) = _executions()
    assert execution["Query"] == engine.pin(drug_response_sql(), commit_set)
    assert _versions(execution["Query"]) == {"annotated_variants": 1, "calls": 2, "samples": 3}
    assert execution["ExecutionParameters"] == ["'NA12%'", "50"]


def test_describe_reads_glue_columns(engine, aws):
    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    glue.create_table(DatabaseName=DATABASE, TableInput={"Name": "sites", "StorageDescriptor": {"Columns": [
        {"Name": "chromosome", "Type": "string", "Comment": "Contig, normalised (22, X, MT)"},
        {"Name": "start", "Type": "bigint", "Comment": "0-based start"},
        {"Name": "tags", "Type": "array<string>"}]}})
    assert engine.describe("sites") == [("chromosome", "string", "Contig, normalised (22, X, MT)"),
                                        ("start", "bigint", "0-based start"), ("tags", "array<string>", None)]


def _commit_samples(lakehouse, endpoint: str, name: str):
    """Record a set through the real commit protocol: one Parquet file of ``samples`` for source file ``name``."""
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    from resources.lakehouse import Change

    data = pa.table({"sample_id": ["NA12878"], "sample_index": pa.array([0], pa.int32()),
                     "source_path": [f"s3://landing/{name}"], "source_file": [name]})
    path = f"{lakehouse.data_location('samples')}/{name}.parquet"
    s3 = pafs.S3FileSystem(endpoint_override=endpoint, scheme="http", region=REGION, access_key="testing",
                           secret_key="testing")
    pq.write_table(data, path.removeprefix("s3://"), filesystem=s3)
    return lakehouse.commit([Change("samples", [path], remove={"source_file": name})], "ingest", source_file=name)


def test_query_reads_the_set_resolved_through_glue(engine, aws):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="genolake-warehouse")
    glue_engine = engine.model_copy(update={"warehouse_uri": "s3://genolake-warehouse/warehouse"})
    assert glue_engine.resolve(None) == EMPTY  # nothing recorded yet: every table reads as empty, never its head
    seed(aws, [("n", "bigint")], [["0"]])
    assert glue_engine.query("SELECT count(*) AS n FROM genolake.sites").to_pylist() == [{"n": 0}]
    assert _executions()[0]["Query"] == (f'SELECT COUNT(*) AS n FROM (SELECT * FROM "{DATABASE}"."sites" '
                                         'WHERE FALSE) AS sites')

    lakehouse = glue_engine.lakehouse()
    first = _commit_samples(lakehouse, aws, "a.vcf")
    second = _commit_samples(lakehouse, aws, "b.vcf")
    assert first.snapshot("samples") != second.snapshot("samples")
    assert glue_engine.resolve(None) == second
    assert glue_engine.resolve(str(first.snapshot("samples"))) == first
    sql = "SELECT count(*) AS n FROM genolake.samples"
    glue_engine.query(sql)
    glue_engine.query(sql, as_of=str(first.snapshot("samples")))
    queries = {e["Query"] for e in _executions()}
    assert f'SELECT COUNT(*) AS n FROM "{DATABASE}"."samples" FOR VERSION AS OF {second.snapshot("samples")}' in queries
    assert f'SELECT COUNT(*) AS n FROM "{DATABASE}"."samples" FOR VERSION AS OF {first.snapshot("samples")}' in queries

    # the Iceberg table's Glue columns carry the contract's comments
    described = glue_engine.describe("samples")
    assert described[0] == ("sample_id", "string", "Sample ID as in the VCF header")
    assert [c[0] for c in described] == ["sample_id", "sample_index", "source_path", "source_file"]
