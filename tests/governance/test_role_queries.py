"""Role queries that cannot be walked around, and plans that settle for compound row filters.

A real local catalog (pyiceberg SQL catalog on SQLite, Parquet data files, the persistent DuckDB views), built from
the table contracts without Spark, and a policy written for these tests (compound AND/OR/NOT/BETWEEN/IN filters, an
allow-list, an exclude-list, a classification exclusion whose row filter uses the hidden column). Three layers:

* the refused-shape corpus: every query that reads anything but the role's own tables is refused by the checker
  (``check_query``) with one line naming what, and the CLI path (``query_as_role``) refuses it too;
* the sandbox alone (``role_connection``, the checker bypassed): files, settings and other tables stay out of reach;
* a property test (hypothesis): random role, granted table and allowed query shape (joins, CTEs, subqueries,
  aggregates, window functions) gives exactly what the same query gives an unrestricted user over the role's
  expected projection and filter, written out by hand here (not by the role machinery);
* apply then plan: ``No changes.`` for the compound filters on the local target (and ``matches_policy`` passes);
  Lake Formation's side is in test_lakeformation.py.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genolake_assets.transforms.tables import TABLES
from governance.local import GovernanceDenied, check_query, selectable
from governance.plan import render
from resources.catalog import local_lakehouse
from resources.governance import LocalGovernance, desired_grants
from resources.lakehouse import Change
from resources.query import DuckDBQueryEngine
from resources.sql_views import role_connection

SAMPLES = ["NA12878", "NA12891", "HG00096", "HG00097", "NA19238", "HG01000", "NA12892"]
CHROMOSOMES = ["21", "22", "X"]
ROWS = 21

POLICY = """\
version: 1
database: genolake
roles:
  lab:
    principal: arn:aws:iam::111122223333:role/lab
    grants:
      - table: calls
        columns: [sample_id, start, ref, alt, allele1, allele2, chromosome]
        row_filter: (sample_id LIKE 'NA12%' OR sample_id IN ('HG00096', 'HG00097')) AND NOT chromosome = 'X' AND start BETWEEN 2 AND 17
      - table: samples
        exclude_classifications: [identifier]
        row_filter: sample_id LIKE 'NA%' AND NOT (sample_index BETWEEN 5 AND 9)
      - table: sites
        exclude_columns: [info, filters]
        row_filter: NOT (qual < 0.5 OR af IS NULL) AND chromosome IN ('21', '22')
  auditor:
    principal: arn:aws:iam::111122223333:role/auditor
    grants:
      - table: sample_qc
        row_filter: NOT sample_id LIKE 'NA19%' AND (call_rate >= 0.5 OR n_sites BETWEEN 3 AND 7)
      - table: calls
        exclude_columns: [source_file, extra_alleles, ad]
        row_filter: chromosome = '21' OR chromosome = '22' AND NOT phased = true
"""

# What each grant shows, written out by hand from POLICY (not compiled by the code under test).
EXPECTED = {
    ("lab", "calls"): ([c for c in TABLES["calls"].column_names  # SELECT *: in the table's order
                        if c in ("sample_id", "start", "ref", "alt", "allele1", "allele2", "chromosome")],
                       "(sample_id LIKE 'NA12%' OR sample_id IN ('HG00096', 'HG00097')) AND NOT chromosome = 'X' "
                       "AND start BETWEEN 2 AND 17"),
    ("lab", "samples"): (["sample_index"], "sample_id LIKE 'NA%' AND NOT (sample_index BETWEEN 5 AND 9)"),
    ("lab", "sites"): ([c for c in TABLES["sites"].column_names if c not in ("info", "filters")],
                       "NOT (qual < 0.5 OR af IS NULL) AND chromosome IN ('21', '22')"),
    ("auditor", "sample_qc"): (TABLES["sample_qc"].column_names,
                               "NOT sample_id LIKE 'NA19%' AND (call_rate >= 0.5 OR n_sites BETWEEN 3 AND 7)"),
    ("auditor", "calls"): ([c for c in TABLES["calls"].column_names if c not in ("source_file", "extra_alleles", "ad")],
                           "chromosome = '21' OR chromosome = '22' AND NOT phased = true"),
}


def _value(column, i: int):
    name, kind = column.name, column.type
    if name == "sample_id":
        return SAMPLES[i % len(SAMPLES)]
    if name == "chromosome":
        return CHROMOSOMES[i % len(CHROMOSOMES)]
    if name == "source_file":
        return f"file{i % 2}.vcf.gz"
    if name in ("af", "qual") and i % 5 == 0:
        return None
    if kind == "string":
        return f"{name}-{i}"
    if kind in ("bigint", "int", "smallint", "tinyint"):
        return i
    if kind in ("double", "float"):
        return i / 10
    if kind == "boolean":
        return i % 3 == 0
    if kind == "date":
        import datetime

        return datetime.date(2026, 1, 1 + i % 28)
    if kind.startswith("array"):
        return [str(i)] if "string" in kind else [i]
    if kind.startswith("map"):
        return [("k", str(i))] if kind.endswith("string>") else [("k", i)]
    return None


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """(home, policy path): a real local catalog with every contract table holding ROWS rows, the policy applied."""
    from genolake_assets.layers.common import write_arrow_table
    from quality.schemas import arrow_type

    home = tmp_path_factory.mktemp("roles") / "home"
    lakehouse = local_lakehouse(str(home))
    lakehouse.ensure_tables()
    changes = []
    for table in TABLES.values():
        schema = pa.schema([pa.field(c.name, arrow_type(c.type)) for c in table.all_columns])
        data = pa.Table.from_pylist([{c.name: _value(c, i) for c in table.all_columns} for i in range(ROWS)],
                                    schema=schema)
        changes.append(Change(table.name, write_arrow_table(data, lakehouse.staging_root(), table)))
    lakehouse.commit(changes, operation="ingest")
    policy = home / "policy.yaml"
    policy.write_text(POLICY)
    LocalGovernance(home=str(home)).apply(policy)
    return home, policy


def _grants(catalog):
    home, policy = catalog
    return desired_grants(policy, "local")


def _as_role(catalog, sql: str, role: str) -> list[tuple]:
    home, _ = catalog
    engine = DuckDBQueryEngine(home=str(home))
    table = engine.query_as_role(sql, role, _grants(catalog), engine.resolve(None))
    return sorted(zip(*[c.to_pylist() for c in table.columns]), key=repr)


def _unrestricted(catalog, sql: str, role: str) -> list[tuple]:
    """The same query as an unrestricted user, each genolake.<table> replaced by the hand-written projection."""
    home, _ = catalog
    con = duckdb.connect(str(Path(home) / "query.duckdb"), read_only=True)
    try:
        def expand(match):
            table = match.group(1)
            columns, where = EXPECTED[(role, table)]
            cols = ", ".join(f'"{c}"' for c in columns)
            return f"(SELECT {cols} FROM genolake.{table} WHERE {where})"
        rows = con.sql(re.sub(r"genolake\.(\w+)", expand, sql)).fetchall()
    finally:
        con.close()
    return sorted(rows, key=repr)


# ----------------------------------------------------------------------------------------- refused shapes

WAREHOUSE_FILE = "{warehouse_file}"
REFUSED = [
    # table functions in every position
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM genolake.calls c, LATERAL read_csv('/etc/passwd')",
    "SELECT * FROM genolake.calls c CROSS JOIN LATERAL read_text('/etc/hostname')",
    "SELECT * FROM genolake.calls JOIN read_parquet('{warehouse_file}') p ON true",
    "SELECT * FROM genolake.calls WHERE start IN (SELECT 1 FROM read_parquet('{warehouse_file}'))",
    "SELECT (SELECT content FROM read_text('/etc/passwd')) AS x",
    "SELECT * FROM genolake.calls UNION ALL SELECT * FROM read_parquet('{warehouse_file}')",
    "SELECT * FROM genolake.calls c CROSS JOIN LATERAL (SELECT * FROM read_blob('/etc/passwd'))",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM query('SELECT * FROM genolake.sites')",
    "SELECT * FROM query_table('genolake.sites')",
    "SELECT * FROM parquet_metadata('{warehouse_file}')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM range(3)",
    "SELECT * FROM duckdb_settings()",
    "SELECT count(*) FROM genolake.calls WHERE EXISTS (SELECT 1 FROM duckdb_views())",
    # names that are not the role's tables
    "SELECT * FROM '/etc/passwd'",
    'SELECT * FROM "/etc/passwd"',
    "SELECT * FROM '{warehouse_file}'",
    "SELECT * FROM genolake.clinvar",
    "SELECT * FROM genolake.annotated_variants",
    "SELECT * FROM role_engineer.calls",
    "SELECT * FROM role_auditor.sample_qc",
    "SELECT * FROM _catalog.tables",
    "SELECT * FROM _governance.grants",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM pg_catalog.pg_tables",
    "SELECT * FROM duckdb_tables",
    "SELECT * FROM main.calls",
    "SELECT * FROM memory.genolake.calls",
    "SELECT * FROM query.genolake.calls",
    'SELECT * FROM "genolake.calls"',
    # CTE names out of their scope
    "SELECT * FROM (WITH duckdb_settings AS (SELECT 1 AS x) SELECT * FROM duckdb_settings) a, duckdb_settings b",
    "SELECT * FROM (WITH s AS (SELECT * FROM genolake.calls) SELECT * FROM s) a WHERE a.start IN (SELECT 1 FROM s)",
    "WITH x AS (SELECT * FROM genolake.calls) SELECT * FROM (WITH y AS (SELECT 1) SELECT * FROM y) a, y",
    "WITH c AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM c",
    # functions that read configuration or state
    "SELECT current_setting('allowed_paths')",
    "SELECT getvariable('x')",
    "SELECT not_a_function(1)",
    # statements
    "COPY (SELECT * FROM genolake.calls) TO '/tmp/out.csv'",
    "ATTACH '/tmp/x.duckdb' AS x",
    "SET enable_external_access = true",
    "PRAGMA database_list",
    "INSTALL httpfs",
    "LOAD httpfs",
    "DESCRIBE genolake.calls",
    "SUMMARIZE genolake.calls",
    "SHOW TABLES",
    "CREATE TABLE t AS SELECT * FROM genolake.calls",
    "DELETE FROM genolake.calls",
    "SELECT 1; SELECT * FROM genolake.sites",
    "EXPLAIN SELECT * FROM genolake.calls",
    "USE role_engineer",
    # size and depth
    "SELECT " + " + ".join(["1"] * 40_000),
    "SELECT " + "(" * 5000 + "1" + ")" * 5000,
]


def _warehouse_file(catalog) -> str:
    home, _ = catalog
    lakehouse = local_lakehouse(str(home))
    files = lakehouse.files("sites", lakehouse.current_set().snapshot("sites"))
    return lakehouse.localize([files[0].path])[0]


@pytest.mark.parametrize("sql", REFUSED, ids=lambda s: s[:60])
def test_refused_shapes_are_refused_with_one_clear_line(catalog, sql):
    sql = sql.replace(WAREHOUSE_FILE, _warehouse_file(catalog))
    with pytest.raises(GovernanceDenied) as refused:
        check_query(sql, "lab", _grants(catalog), TABLES)
    message = str(refused.value)
    assert message.startswith("role 'lab'") and "\n" not in message and len(message) < 400, message
    with pytest.raises(GovernanceDenied):  # the engine path checks too (the CLI's)
        _as_role(catalog, sql, "lab")


def test_cli_refuses_a_lateral_table_function_without_reading(catalog, monkeypatch):
    from typer.testing import CliRunner

    from genolake_assets.cli import app

    home, policy = catalog
    monkeypatch.setenv("GENOLAKE_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(Path(home) / "dagster"))
    result = CliRunner().invoke(app, ["query", "--role", "lab", "--policy", str(policy),
                                      "SELECT * FROM genolake.calls, LATERAL read_csv('/etc/passwd')"])
    assert result.exit_code == 1
    assert "table functions are not allowed under a role" in result.output and "root:" not in result.output
    result = CliRunner().invoke(app, ["query", "--role", "lab", "--policy", str(policy), "--format", "json",
                                      "SELECT count(*) AS n FROM genolake.samples"])
    assert result.exit_code == 0, result.output
    expected = _unrestricted(catalog, "SELECT count(*) AS n FROM genolake.samples", "lab")[0][0]
    assert json.loads(result.stdout) == [{"n": expected}] and 0 < expected < ROWS


def test_the_sandbox_alone_reaches_nothing_else(catalog):
    """The second guard on its own: the checker bypassed, the role's connection still cannot read another file,
    another table or a setting, nor unlock itself."""
    home, _ = catalog
    lakehouse = local_lakehouse(str(home))
    grants = selectable(_grants(catalog), "lab")
    con = role_connection(lakehouse, lakehouse.current_set(), grants)
    try:
        tables = sorted(r[0] for r in con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall())
        assert tables == ["genolake.calls", "genolake.samples", "genolake.sites"]  # nothing else is in it
        shown = [r[0] for r in con.execute("SELECT * FROM samples").description]
        assert shown == ["sample_index"]  # sample_id hidden although the row filter uses it
        other = lakehouse.localize([lakehouse.files("clinvar", lakehouse.current_set().snapshot("clinvar"))[0].path])[0]
        for sql in (f"SELECT * FROM read_parquet('{other}')", "SELECT * FROM read_csv('/etc/passwd')",
                    "SELECT * FROM read_text('/etc/hostname')", "SELECT * FROM glob('/*')",
                    f"ATTACH '{Path(home) / 'query.duckdb'}' AS q", "SET enable_external_access = true",
                    "SET allowed_paths = ['/etc/passwd']", "SET lock_configuration = false", "LOAD httpfs",
                    "COPY (SELECT 1) TO '/tmp/genolake-role-out.csv'"):
            with pytest.raises(duckdb.Error):
                con.execute(sql).fetchall()
        assert not os.path.exists("/tmp/genolake-role-out.csv")
    finally:
        con.close()


def test_a_hidden_column_used_by_the_filter_is_not_shown_and_named_when_asked(catalog):
    with pytest.raises(duckdb.Error) as hidden:
        _as_role(catalog, "SELECT sample_id FROM genolake.samples", "lab")
    from governance.local import explain_denied

    said = explain_denied(hidden.value, "lab", _grants(catalog), {n: t.column_names for n, t in TABLES.items()})
    assert said.startswith("role 'lab' may not see column 'sample_id' of genolake.samples")
    # the filter still applies on it: NA12878 (0), NA12891 (1), NA19238 (4), NA12892 (6) minus indexes 5-9 ...
    assert _as_role(catalog, "SELECT sample_index FROM genolake.samples", "lab") == \
        _unrestricted(catalog, "SELECT sample_index FROM genolake.samples", "lab")


# ------------------------------------------------------------------------------------------ the property

GRANTED = sorted(EXPECTED)


def _numeric(role: str, table: str) -> list[str]:
    columns, _ = EXPECTED[(role, table)]
    kinds = {c.name: c.type for c in TABLES[table].all_columns}
    return [c for c in columns if kinds[c] in ("bigint", "int", "smallint", "tinyint", "double", "float")]


@st.composite
def role_queries(draw):
    role, table = draw(st.sampled_from(GRANTED))
    columns, _ = EXPECTED[(role, table)]
    numeric = _numeric(role, table)
    a = draw(st.sampled_from(columns))
    b = draw(st.sampled_from(columns))
    n = draw(st.sampled_from(numeric)) if numeric else None
    k = draw(st.integers(min_value=0, max_value=ROWS))
    t = f"genolake.{table}"
    shapes = [
        f'SELECT "{a}", "{b}" FROM {t}',
        f"SELECT * FROM {t}",
        f'SELECT "{a}", count(*) AS n FROM {t} GROUP BY ALL',
        f'WITH x AS (SELECT * FROM {t}) SELECT count(*), count(DISTINCT "{a}") FROM x',
        f'SELECT l."{a}", r."{b}" FROM {t} l JOIN {t} r ON l."{a}" = r."{a}"',
        f'SELECT * FROM (SELECT "{a}" FROM {t}) s WHERE "{a}" IS NOT NULL',
        f'SELECT "{a}" FROM {t} WHERE "{a}" IN (SELECT "{a}" FROM {t})',
        f'SELECT "{a}", row_number() OVER (PARTITION BY "{a}" ORDER BY "{b}", "{a}") > 0 AS first FROM {t}',
        f'WITH x AS (SELECT "{a}" FROM {t}), y AS (SELECT * FROM x UNION ALL SELECT * FROM x) '
        f"SELECT count(*) FROM y",
        f'SELECT (SELECT count(*) FROM {t}) AS total, (SELECT count(DISTINCT "{b}") FROM {t}) AS distinct_b',
        f'SELECT "{a}" FROM {t} EXCEPT SELECT "{a}" FROM {t} WHERE false',
    ]
    if n is not None:
        shapes += [
            f'SELECT min("{n}"), max("{n}"), sum("{n}") FROM {t}',
            f'SELECT "{a}" FROM {t} WHERE "{n}" >= {k}',
            f'SELECT sum("{n}") OVER () AS total FROM {t}',
            f'WITH big AS (SELECT * FROM {t} WHERE "{n}" > {k}) SELECT count(*) FROM big b '
            f'WHERE EXISTS (SELECT 1 FROM {t} s WHERE s."{n}" = b."{n}")',
        ]
    return role, draw(st.sampled_from(shapes))


@settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=role_queries())
def test_allowed_queries_see_exactly_the_expected_projection_and_rows(catalog, case):
    role, sql = case
    assert _as_role(catalog, sql, role) == _unrestricted(catalog, sql, role), sql


def test_the_expected_projections_are_not_empty_nor_everything(catalog):
    """The property above compares something: each grant shows some rows, never all ROWS of a table."""
    for (role, table), (columns, where) in EXPECTED.items():
        shown = _as_role(catalog, f"SELECT count(*) FROM genolake.{table}", role)[0][0]
        assert 0 < shown < ROWS, (role, table, shown)


# ---------------------------------------------------------------------------------------- plans that settle


def test_compound_filters_settle_after_apply_locally(catalog):
    from genolake_assets.layers.governance import matches_policy  # noqa: F401  (the check's code path below)

    home, policy = catalog
    governance = LocalGovernance(home=str(home))
    plan, desired = governance.plan(policy)
    assert render(plan) == "No changes.", render(plan)
    assert any(" OR " in (g.row_filter or "") and " AND " in (g.row_filter or "") for g in desired)
    assert governance.apply(policy).empty  # a second apply rebuilds nothing
    # the views DuckDB stored carry its own parentheses; read back they are the declared filters
    con = duckdb.connect(str(Path(home) / "query.duckdb"), read_only=True)
    stored = con.execute("SELECT sql FROM duckdb_views() WHERE schema_name = 'role_lab' AND view_name = 'calls'"
                         ).fetchone()[0]
    con.close()
    assert "((" in stored
    by_key = {(g.role, g.table): g for g in governance.actual()}
    assert by_key[("lab", "calls")].row_filter == next(g for g in desired if (g.role, g.table) == ("lab", "calls")).row_filter


def test_a_classification_exclusion_with_a_filter_on_the_hidden_column_means_the_same_on_both_targets(catalog):
    """Decided: allowed, on purpose. ``exclude_classifications: [identifier]`` + ``row_filter: sample_id LIKE ...``
    is how a consented-cohort rule reads: the engine filters on the column, the role never sees it. Locally the
    role's view filters on the table's column and shows only the others (test above); on Lake Formation it is one
    data cells filter whose column list omits the column its row filter uses (cell-level security)."""
    from governance.compile import compile_policy
    from governance.lakeformation import _filter_data
    from governance.model import load_policy

    _, policy = catalog
    loaded = load_policy(policy)
    local = {(g.role, g.table): g for g in compile_policy(loaded, "local")}
    aws = {(g.role, g.table): g for g in compile_policy(loaded, "aws")}
    for target in (local, aws):
        grant = target[("lab", "samples")]
        assert grant.columns == ("sample_index",) and "sample_id" in grant.row_filter
    data = _filter_data(aws[("lab", "samples")], "111122223333")
    assert data["ColumnNames"] == ["sample_index"] and "sample_id LIKE 'NA%'" in data["RowFilter"]["FilterExpression"]
