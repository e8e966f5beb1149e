"""Row filters compare by meaning: random compound filters (AND/OR/NOT/BETWEEN/IN/LIKE/IS NULL), spelled with
random extra parentheses, stored by DuckDB in a view and read back, give the same canonical text as the policy's;
the canonical text selects exactly the rows the original does (it is a spelling, never a new meaning)."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from genolake_assets.transforms.tables import TABLES
from governance.model import normalise_filter, parse_row_filter

CALLS = TABLES["calls"]

atoms = st.sampled_from([
    "sample_id LIKE 'NA12%'", "sample_id = 'HG00096'", "chromosome IN ('21', '22')", "start BETWEEN 3 AND 12",
    "dp >= 5", "gq < 7", "phased = true", "dp IS NULL", "alt <> 'T'", "NOT start BETWEEN 1 AND 2",
    "sample_id NOT IN ('NA19238')", "ref NOT LIKE 'A%'", "gq IS NOT NULL", "lower(sample_id) LIKE 'hg%'",
    "coalesce(dp, 0) > 3", "length(ref) = 1", "substring(sample_id, 1, 2) = 'NA'", "start != 4",
])


def _wrap(text: str, extra: bool) -> str:
    return f"({text})" if extra else text


filters = st.recursive(
    atoms.flatmap(lambda a: st.booleans().map(lambda p: _wrap(a, p))),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner, st.booleans()).map(
            lambda t: _wrap(f"({t[0]} {t[1]} {t[2]})", t[3])),
        inner.map(lambda x: f"NOT ({x})"),
    ),
    max_leaves=8,
)


def _db():
    con = duckdb.connect()
    con.execute("CREATE TABLE calls (sample_id VARCHAR, chromosome VARCHAR, start BIGINT, ref VARCHAR, alt VARCHAR, "
                "dp INTEGER, gq INTEGER, phased BOOLEAN)")
    samples = ["NA12878", "HG00096", "NA19238", "HG00097"]
    rows = [(samples[i % 4], ["21", "22", "X"][i % 3], i, "ACGT"[i % 4] * (1 + i % 2), "ACGT"[(i + 1) % 4],
             None if i % 5 == 0 else i % 9, None if i % 7 == 0 else i % 11, i % 2 == 0) for i in range(30)]
    con.executemany("INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return con


CON = _db()


def _stored(sql: str) -> str:
    CON.execute(f"CREATE OR REPLACE VIEW v AS SELECT * FROM calls WHERE {sql}")
    text = CON.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'v'").fetchone()[0]
    return text[text.index(" WHERE ") + 7:].rstrip().rstrip(";")


def _rows(sql: str) -> list:
    return sorted(CON.execute(f"SELECT * FROM calls WHERE {sql}").fetchall(), key=repr)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(sql=filters)
def test_a_filter_read_back_from_duckdb_is_the_policy_filter(sql):
    parse_row_filter(sql, CALLS)  # a valid policy filter
    canonical = normalise_filter(sql)
    assert normalise_filter(_stored(sql)) == canonical  # DuckDB's spelling, our text
    assert normalise_filter(_stored(canonical)) == canonical  # what apply writes reads back unchanged
    assert normalise_filter(canonical) == canonical  # a fixed point
    assert _rows(canonical) == _rows(sql)  # same meaning


def test_different_meanings_stay_different():
    a = "sample_id LIKE 'NA12%' AND dp > 3 OR gq < 2"
    b = "sample_id LIKE 'NA12%' AND (dp > 3 OR gq < 2)"
    assert normalise_filter(a) != normalise_filter(b) and _rows(normalise_filter(a)) != _rows(normalise_filter(b))
    assert normalise_filter("NOT (dp > 3 AND gq < 2)") != normalise_filter("NOT dp > 3 AND gq < 2")
    assert normalise_filter("((a = 1) AND (b = 1))") == normalise_filter("a = 1 AND b = 1") == "a = 1 AND b = 1"
    assert normalise_filter("a = 1 AND (b = 1 AND c = 1)") == "a = 1 AND b = 1 AND c = 1"
