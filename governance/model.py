"""The policy file (``governance/policies.yaml``): its model, loading and validation, and row-filter safety.

``load_policy`` checks the file against the table contracts (``genolake_assets.transforms.tables``) and raises
``PolicyError`` with ONE message naming the file, the role, the grant and what was expected. Row filters are
parsed with sqlglot and must stay inside a small, safe subset of SQL (see ``parse_row_filter``);
``normalise_filter`` gives the canonical text both DuckDB and Athena/Trino accept, so the same filter always
compares equal. Plain library: no dagster, no boto3.
"""

from __future__ import annotations

import codecs
import os
import re
import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Optional

import sqlglot
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.dialects.trino import Trino
from sqlglot.tokens import TokenType

from genolake_assets.transforms.tables import CLASSIFICATIONS, DATABASE, TABLES, Table

from .grants import PERMISSIONS

POLICY_PATH = Path(__file__).with_name("policies.yaml")

ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # also a local schema / view-name part: keep it a plain identifier
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
LF_MAX_FILTER = 2048  # Lake Formation: the expression must be shorter than 2048 characters

# Bounds on the input, checked before any recursive parsing, so that no policy file can hang or crash loading
# (the shipped file is ~4 KB, ~100 YAML values nested 7 deep, row filters of one operator).
MAX_POLICY_BYTES = 256 * 1024  # the file
MAX_YAML_DEPTH = 32  # nesting of YAML values (the format itself needs 7)
MAX_YAML_NODES = 20_000  # YAML values in the file
MAX_FILTER_CHARS = 4096  # a policy's row filter (Lake Formation's own limit is 2047)
MAX_FILTER_NESTING = 16  # parentheses, function calls and NOT / unary minus inside each other, in a policy's filter
MAX_FILTER_OPERATORS = 200  # AND, OR, NOT, comparisons, LIKE, IN, IS, BETWEEN, arithmetic... in a policy's filter
EXCERPT = 80  # characters of an input a message shows at most


class PolicyError(ValueError):
    """An invalid policy file: one message naming the file, the role, the grant and what was expected."""


class FilterError(ValueError):
    """A row filter that does not parse or is not allowed (no file/role context; callers add it)."""


# ---------------------------------------------------------------------------------------------------- the model


class GrantSpec(BaseModel):
    """One grant of a role, as written in the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str
    permissions: tuple[str, ...] = PERMISSIONS
    columns: Optional[tuple[str, ...]] = None  # allow-list; None = every column
    exclude_columns: Optional[tuple[str, ...]] = None
    exclude_classifications: tuple[str, ...] = ()
    row_filter: Optional[str] = None

    @field_validator("permissions")
    @classmethod
    def _permissions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"no permissions; expected a non-empty subset of {', '.join(PERMISSIONS)}")
        for permission in value:
            if permission not in PERMISSIONS:
                raise ValueError(f"unknown permission {_excerpt(permission)}; expected a subset of "
                                 f"{', '.join(PERMISSIONS)}")
        return tuple(sorted(set(value)))

    def visible_columns(self, table: Table) -> Optional[tuple[str, ...]]:
        """The columns this grant shows, sorted; ``None`` when that is every column of ``table`` (partition
        columns included): Lake Formation reports a column-wildcard SELECT as a plain table SELECT."""
        everything = table.column_names
        chosen = set(self.columns) if self.columns is not None else set(everything)
        chosen -= set(self.exclude_columns or ())
        hidden = set(self.exclude_classifications)
        chosen -= {c.name for c in table.all_columns if c.classification is not None and c.classification in hidden}
        if chosen == set(everything):
            return None
        return tuple(sorted(chosen))


class Role(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    principal: str  # IAM role ARN (used on AWS); locally the role name is the principal
    description: str = ""
    grants: tuple[GrantSpec, ...] = ()

    @field_validator("principal")
    @classmethod
    def _principal(cls, value: str) -> str:
        if not ROLE_ARN.match(value):
            raise ValueError(f"principal {_excerpt(value)} is not an IAM role ARN; expected "
                             "arn:aws:iam::<12-digit account>:role/<name>")
        return value


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    database: str = DATABASE
    roles: dict[str, Role] = Field(default_factory=dict)

    _source: str = PrivateAttr(default="<policy>")

    @property
    def source(self) -> str:
        """The file the policy was loaded from (for messages)."""
        return self._source


# ------------------------------------------------------------------------------------------------ loading

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple, _REPR.maxset = 2, 4, 4, 4, 4
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 40, 40, 40


def clip(text: str, limit: int = EXCERPT) -> str:
    """``text`` on one line, cut to ``limit`` characters with its length when cut: a message never echoes a
    whole input."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} chars)"


def _excerpt(value: Any, limit: int = EXCERPT) -> str:
    """``repr(value)`` of at most about ``limit`` characters: a long text cut (with its length), a big or deep
    structure shortened (``reprlib``, which never builds the whole repr)."""
    if isinstance(value, str):
        return repr(value) if len(value) <= limit else f"{value[:limit]!r}...({len(value)} chars)"
    return clip(_REPR.repr(value), limit)


def where(source: str, role: Optional[str] = None, index: Optional[int] = None, table: Optional[str] = None) -> str:
    """``file: role 'r', grant #n (table 't')``: the prefix of every policy message (``index`` is 0-based)."""
    text = str(source)
    if role is not None:
        text += f": role {_excerpt(role)}"
        if index is not None:
            text += f", grant #{index + 1}"
            if table:
                text += f" (table {_excerpt(table)})"
    return text


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate keys (PyYAML silently keeps the last one: a reviewer would not),
    anchors and aliases (a few hundred bytes of nested aliases expand to gigabytes: "billion laughs"), values
    nested deeper than ``MAX_YAML_DEPTH`` (composing recurses) and more than ``MAX_YAML_NODES`` values. All are
    refused while composing, before anything is expanded or constructed."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            what = "alias *" if isinstance(event, yaml.AliasEvent) else "anchor &"
            raise yaml.composer.ComposerError(
                None, None, f"YAML {what}{clip(event.anchor, 40)} is not allowed in a policy file; expected every "
                "value written out (no anchors & or aliases *)", event.start_mark)
        self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"more than {MAX_YAML_NODES} YAML values; expected a policy file (a few hundred)",
                event.start_mark)
        if self._depth >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"values nested more than {MAX_YAML_DEPTH} deep; expected a policy file (7 levels)",
                event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {_excerpt(key)}; expected each key once", key_node.start_mark)
            seen.add(key)
        except TypeError:  # an unhashable key (a list or mapping): construct_mapping says so, with its line
            break
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)

_HINTS = {
    "version": "version: 1",
    "database": "a database name",
    "roles": "a mapping of role name -> {principal, description, grants}",
    "principal": "an IAM role ARN, arn:aws:iam::<12-digit account>:role/<name>",
    "description": "a text",
    "grants": "a list of grants, each {table, permissions, columns | exclude_columns, "
              "exclude_classifications, row_filter}",
    "table": "a table name",
    "permissions": f"a list, a subset of {', '.join(PERMISSIONS)}",
    "columns": "a list of column names",
    "exclude_columns": "a list of column names",
    "exclude_classifications": f"a list of classifications ({', '.join(CLASSIFICATIONS)})",
    "row_filter": "an SQL predicate (text) over the table's own columns",
}
_KEYS = {
    "top": ("version", "database", "roles"),
    "role": ("principal", "description", "grants"),
    "grant": ("table", "permissions", "columns", "exclude_columns", "exclude_classifications", "row_filter"),
}


def _pydantic_message(source: str, raw: Any, error: Mapping[str, Any]) -> str:
    """One pydantic error -> one policy message: where (role, grant, table) + what was expected."""
    loc = list(error["loc"])
    role = index = table = None
    level = "top"
    if loc[:1] == ["roles"] and len(loc) > 1:
        role, loc, level = loc[1], loc[2:], "role"
        if loc[:1] == ["grants"] and len(loc) > 1 and isinstance(loc[1], int):
            index, loc, level = loc[1], loc[2:], "grant"
            try:
                table = raw["roles"][role]["grants"][index].get("table")
            except (KeyError, IndexError, TypeError, AttributeError):
                table = None
    field = next((p for p in loc if isinstance(p, str)), None)
    prefix = where(source, role, index, table if isinstance(table, str) else None)
    kind = error["type"]
    if kind == "missing":
        what = f"missing {_excerpt(field)}; expected {_HINTS.get(field, 'a value')}"
    elif kind == "extra_forbidden":
        what = f"unknown key {_excerpt(field)}; expected one of {', '.join(_KEYS[level])}"
    elif kind == "value_error":
        what = clip(error.get("ctx", {}).get("error", error["msg"]), 400)
    elif field is None:  # the role or grant itself has the wrong shape
        shape = {"role": "a mapping with principal, description, grants",
                 "grant": "a mapping with table, permissions, columns | exclude_columns, exclude_classifications, "
                          "row_filter",
                 "top": "a mapping with version, database, roles"}
        what = f"{level} is not a mapping (got {_excerpt(error.get('input'))}); expected {shape[level]}"
    else:
        what = (f"{_excerpt(field)} is invalid (got {_excerpt(error.get('input'))}); "
                f"expected {_HINTS.get(field, 'a valid value')}")
    return f"{prefix}: {what}"


def parse_policy(data: Any, source: str = "<policy>", tables: Mapping[str, Table] = TABLES) -> Policy:
    """A policy from already-parsed YAML ``data``, validated against the contracts ``tables``."""
    if not isinstance(data, Mapping):
        raise PolicyError(f"{source}: the file is a {type(data).__name__}; expected a mapping with "
                          "version, database, roles")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as e:
        raise PolicyError(_pydantic_message(source, data, e.errors()[0])) from None
    policy._source = str(source)
    validate_policy(policy, tables)
    return policy


def _read_text(path: Path) -> str:
    """The file's text: at most ``MAX_POLICY_BYTES``, strictly UTF-8 (a UTF-8 byte-order mark is dropped), no NUL."""
    cap = f"expected a policy file of at most {MAX_POLICY_BYTES // 1024} KiB"
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > MAX_POLICY_BYTES:
                raise PolicyError(f"{path}: the file is {size} bytes; {cap}")
            raw = file.read(MAX_POLICY_BYTES + 1)  # a pipe or a device has no size: read one byte past the cap
    except OSError as e:
        raise PolicyError(f"{path}: cannot read the policy file ({e.strerror or e}); expected a YAML file") from None
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyError(f"{path}: the file is more than {MAX_POLICY_BYTES} bytes; {cap}")
    start = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    boms = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
            (codecs.BOM_UTF16_BE, "UTF-16"))
    bom = next((f" (a {name} byte-order mark)" for mark, name in boms if raw.startswith(mark)), "")
    try:
        text = raw[start:].decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        offset = start + e.start
        raise PolicyError(f"{path}: not UTF-8 text (byte 0x{raw[offset]:02x} at offset {offset}{bom}); "
                          "expected a UTF-8 YAML file") from None
    if "\x00" in text:
        offset = start + len(text[:text.index("\x00")].encode("utf-8"))
        raise PolicyError(f"{path}: not UTF-8 text (byte 0x00 at offset {offset}: binary or UTF-16); "
                          "expected a UTF-8 YAML file")
    return text


def _yaml_message(path: Path, e: Exception) -> str:
    """A YAML error as one line: where in the file, what is wrong (cut short), what was expected."""
    mark = getattr(e, "problem_mark", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    if isinstance(e, yaml.reader.ReaderError):  # a character YAML does not allow (control characters)
        at = f" at character {e.position + 1}"
        problem = f"character #x{e.character:04x} is not allowed" if isinstance(e.character, int) else e.reason
    elif isinstance(e, yaml.YAMLError):
        problem = getattr(e, "problem", None) or str(e)
    else:  # e.g. an integer of more than 4300 digits (ValueError)
        problem = f"{type(e).__name__}: {clip(e, 120)}"
    problem = clip(problem, 200)
    expected = "" if "; expected" in problem else "; expected a YAML mapping with version, database, roles"
    return f"{path}: YAML does not parse{at}: {problem}{expected}"


def load_policy(path: str | Path = POLICY_PATH, tables: Mapping[str, Table] = TABLES) -> Policy:
    """Load and validate the policy file; ``PolicyError`` (one clear message) when it is not valid.

    Bounded, so that no file can hang or crash it: at most ``MAX_POLICY_BYTES``, UTF-8, no YAML anchors or
    aliases, at most ``MAX_YAML_DEPTH`` levels and ``MAX_YAML_NODES`` values, row filters within
    ``MAX_FILTER_CHARS`` / ``MAX_FILTER_NESTING`` / ``MAX_FILTER_OPERATORS``; every message shows at most a short
    excerpt of the input."""
    path = Path(path)
    text = _read_text(path)
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, ValueError, TypeError) as e:
        raise PolicyError(_yaml_message(path, e)) from None
    except (RecursionError, MemoryError) as e:  # not expected within the bounds above: still one message
        raise PolicyError(f"{path}: YAML does not parse ({type(e).__name__}); expected a small YAML mapping "
                          "with version, database, roles") from None
    try:
        return parse_policy(data, str(path), tables)
    except (RecursionError, MemoryError) as e:
        raise PolicyError(f"{path}: the policy is too large or too deeply nested to check ({type(e).__name__}); "
                          "expected a small YAML mapping with version, database, roles") from None


# --------------------------------------------------------------------------------------------- validation


def validate_policy(policy: Policy, tables: Mapping[str, Table] = TABLES) -> None:
    """Check ``policy`` against the contracts: tables, columns, classifications, row filters, one grant per
    role and table, one role per principal. Raises ``PolicyError`` at the first problem."""
    source = policy.source
    if not ROLE_NAME.match(policy.database):
        raise PolicyError(f"{source}: database {_excerpt(policy.database)} is not a plain name; "
                          f"expected e.g. {DATABASE}")
    principals: dict[str, str] = {}
    for role_name, role in policy.roles.items():
        if not ROLE_NAME.match(str(role_name)):
            raise PolicyError(f"{where(source, role_name)}: role name is not a plain lower-case identifier; "
                              "expected letters, digits and _ (it names the role's local views)")
        if role.principal in principals:
            raise PolicyError(f"{where(source, role_name)}: principal {clip(role.principal)} is also role "
                              f"{_excerpt(principals[role.principal])}'s; expected one role per principal")
        principals[role.principal] = role_name
        seen: dict[str, int] = {}
        for index, spec in enumerate(role.grants):
            _validate_grant(source, role_name, index, spec, tables)
            if spec.table in seen:
                raise PolicyError(f"{where(source, role_name, index, spec.table)}: a second grant on the table "
                                  f"(grant #{seen[spec.table] + 1} is the first); "
                                  "expected one grant per role and table")
            seen[spec.table] = index


def _validate_grant(source: str, role: str, index: int, spec: GrantSpec, tables: Mapping[str, Table]) -> None:
    at = where(source, role, index, spec.table)
    table = tables.get(spec.table)
    if table is None:
        raise PolicyError(f"{at}: unknown table {_excerpt(spec.table)}; expected one of {', '.join(sorted(tables))}")
    if spec.columns is not None and spec.exclude_columns is not None:
        raise PolicyError(f"{at}: both 'columns' and 'exclude_columns'; expected one of them "
                          "(an allow-list or an exclude-list)")
    names = table.column_names
    for key in ("columns", "exclude_columns"):
        listed = getattr(spec, key)
        if listed is None:
            continue
        if key == "columns" and not listed:
            raise PolicyError(f"{at}: 'columns' is empty; expected at least one column (remove the grant to "
                              "grant nothing)")
        for name in listed:
            if name not in names:
                raise PolicyError(f"{at}: unknown column {_excerpt(name)} in {key}; expected a column of "
                                  f"{table.name}: {', '.join(names)}")
    for classification in spec.exclude_classifications:
        if classification not in CLASSIFICATIONS:
            raise PolicyError(f"{at}: unknown classification {_excerpt(classification)} in exclude_classifications; "
                              f"expected one of {', '.join(CLASSIFICATIONS)}")
    if spec.visible_columns(table) == ():
        raise PolicyError(f"{at}: no column left after the exclusions; expected at least one visible column "
                          "(remove the grant to grant nothing)")
    if spec.row_filter is not None:
        try:
            parse_row_filter(spec.row_filter, table)
        except FilterError as e:
            raise PolicyError(f"{at}: {e}") from None


# --------------------------------------------------------------------------------------------- row filters

FUNCTIONS: dict[type, str] = {exp.Lower: "lower", exp.Upper: "upper", exp.Coalesce: "coalesce",
                              exp.Substring: "substring", exp.Length: "length"}
_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)
_ALLOWED = ("comparisons (=, <>, !=, <, <=, >, >=), IN (a list of literals), LIKE, IS [NOT] NULL, BETWEEN, "
            "AND/OR/NOT, parentheses, the table's own columns, literals and the functions "
            + ", ".join(sorted(set(FUNCTIONS.values()))))
_LF_ALLOWED = ("Lake Formation allows only comparisons of a column with literals (=, <>, <, <=, >, >=, BETWEEN, "
               "IN, LIKE, IS [NOT] NULL on non-partition columns) combined with AND/OR/NOT, over string, int, "
               "bigint, float, double, decimal and boolean columns")
_RESERVED = frozenset(DuckDB.Generator.RESERVED_KEYWORDS) | frozenset(Trino.Generator.RESERVED_KEYWORDS)
_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")
_STRING_TYPES = ("string", "varchar", "char")
_NUMBER_TYPES = ("bigint", "int", "integer", "smallint", "tinyint", "double", "float", "decimal")
_LF_TYPES = ("string", "varchar", "char", "int", "integer", "bigint", "float", "double", "decimal", "boolean")


def _type_kind(glue_type: str) -> str:
    base = glue_type.split("(")[0].strip().lower()
    if base in _STRING_TYPES:
        return "string"
    if base in _NUMBER_TYPES:
        return "number"
    if base == "boolean":
        return "boolean"
    return "other"


_OPEN = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})
_CLOSE = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})
_ATOMS = frozenset({TokenType.VAR, TokenType.IDENTIFIER, TokenType.STRING, TokenType.NUMBER, TokenType.NULL,
                    TokenType.TRUE, TokenType.FALSE, TokenType.DOT, TokenType.COMMA}) | _OPEN | _CLOSE
_CONNECTIVES = frozenset({TokenType.AND, TokenType.OR, TokenType.COMMA})  # end the operand of a NOT / unary minus
_PREFIX = frozenset({TokenType.NOT, TokenType.DASH, TokenType.PLUS, TokenType.TILDE})
# (characters, nesting, operators): a policy's filters, and any text ``normalise_filter`` is given (filters read
# back from DuckDB's views or Lake Formation: the engines' renderings of a policy's filter add parentheses and
# characters, so the bounds there are looser; a parser recursion error is a FilterError either way).
_POLICY_BOUNDS = (MAX_FILTER_CHARS, MAX_FILTER_NESTING, MAX_FILTER_OPERATORS)
_TEXT_BOUNDS = (4 * MAX_FILTER_CHARS, 2 * MAX_FILTER_NESTING, None)


def _check_bounds(sql: str, tokens: list, nesting_cap: Optional[int], operator_cap: Optional[int]) -> None:
    """One linear pass over the tokens, before the (recursive) parse: at most ``nesting_cap`` levels of
    parentheses, function calls and prefix operators (NOT, unary minus) inside each other, at most ``operator_cap``
    operators (every token but names, literals, commas and brackets)."""
    pending = [0]  # per open bracket: the prefix operators whose operand is still open at that level
    prefixes = operators = 0
    previous = None
    for token in tokens:
        kind = token.token_type
        if kind in _OPEN:
            pending.append(0)
        elif kind in _CLOSE:
            if len(pending) > 1:
                prefixes -= pending.pop()
        elif kind in _CONNECTIVES:
            prefixes -= pending[-1]
            pending[-1] = 0
        elif kind in _PREFIX and (previous is None or previous in _OPEN or previous in _CONNECTIVES
                                  or previous == TokenType.NOT
                                  or (kind != TokenType.NOT and previous not in _ATOMS)):
            pending[-1] += 1
            prefixes += 1
        if kind not in _ATOMS:
            operators += 1
            if operator_cap is not None and operators > operator_cap:
                raise FilterError(f"row_filter {_excerpt(sql)} has more than {operator_cap} operators (AND, OR, NOT, "
                                  f"comparisons, LIKE, IN, IS, BETWEEN, ...); expected at most {operator_cap} "
                                  "(a list of values is one IN (...))")
        if nesting_cap is not None and len(pending) - 1 + prefixes > nesting_cap:
            raise FilterError(f"row_filter {_excerpt(sql)} nests more than {nesting_cap} levels deep (parentheses, "
                              f"function calls, NOT and unary minus inside each other); expected at most "
                              f"{nesting_cap}")
        previous = kind


def _parse(sql: str, bounds: tuple[int, Optional[int], Optional[int]] = _TEXT_BOUNDS) -> exp.Expression:
    """Exactly one SQL expression (no ``;``, no second statement, no comments), within ``bounds`` (characters,
    nesting, operators; checked before parsing)."""
    if not isinstance(sql, str) or not sql.strip():
        raise FilterError("row_filter is empty; expected an SQL predicate (or no row_filter for all rows)")
    max_chars, nesting_cap, operator_cap = bounds
    if len(sql) > max_chars:
        raise FilterError(f"row_filter {_excerpt(sql)} is {len(sql)} characters long; expected at most {max_chars} "
                          f"(Lake Formation allows {LF_MAX_FILTER - 1}; a list of values is one IN (...))")
    try:
        tokens = sqlglot.tokenize(sql)
        _check_bounds(sql, tokens, nesting_cap, operator_cap)
        statements = sqlglot.parse(sql)
        if any(t.token_type == TokenType.SEMICOLON for t in tokens) or len([s for s in statements if s]) != 1:
            raise FilterError(f"row_filter {_excerpt(sql)} has ';' or several statements; expected one predicate")
        expression = statements[0]
        if any(node.comments for node in expression.walk()) or any(t.comments for t in tokens):
            raise FilterError(f"row_filter {_excerpt(sql)} has an SQL comment; expected a bare predicate "
                              "(comment the YAML instead)")
    except sqlglot.errors.SqlglotError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise FilterError(f"row_filter {_excerpt(sql)} does not parse ({clip(first, 160)}); expected an SQL "
                          "predicate such as sample_id LIKE 'NA12%'") from None
    except RecursionError:
        raise FilterError(f"row_filter {_excerpt(sql)} is nested too deeply to parse; expected at most "
                          f"{MAX_FILTER_NESTING} levels of parentheses") from None
    return expression


class _Checker:
    """Walks a parsed filter: only the allowed grammar, only ``table``'s columns, matching types; with
    ``lake_formation`` also Lake Formation's narrower subset."""

    def __init__(self, sql: str, table: Table, lake_formation: bool):
        self.sql, self.table, self.lake_formation = sql, table, lake_formation
        self.shown = _excerpt(sql)  # messages show the start of a long filter, and its length
        self.columns = {c.name: c for c in table.all_columns}
        self.partitions = {c.name for c in table.partition_columns}

    def fail(self, what: str) -> FilterError:
        return FilterError(f"row_filter {self.shown}: {what}; expected {_ALLOWED}")

    def lf_fail(self, what: str) -> FilterError:
        return FilterError(f"row_filter {self.shown}: {what}; {_LF_ALLOWED}")

    def refuse(self, node: exp.Expression) -> FilterError:
        if isinstance(node, (exp.Subquery, exp.Select, exp.Exists, exp.Union, exp.Query)):
            what = "a subquery"
        elif isinstance(node, exp.Star):
            what = "'*'"
        elif isinstance(node, exp.ILike):
            what = "ILIKE (Athena/Trino and Lake Formation have no ILIKE; use LIKE)"
        elif isinstance(node, exp.Escape):
            what = "LIKE ... ESCAPE"
        elif isinstance(node, (exp.Cast, exp.TryCast)):
            what = f"a cast or typed literal ({clip(node.sql())})"
        elif isinstance(node, exp.Anonymous):
            what = f"function {clip(node.name, 40)}()"
        elif isinstance(node, exp.Func):
            what = f"function {node.sql_name()}()"
        elif isinstance(node, (exp.DDL, exp.DML, exp.Command, exp.Drop)):
            what = f"a statement ({node.key.upper()})"
        else:
            what = f"{node.key.upper()} ({clip(node.sql())})"
        return self.fail(f"{what} is not allowed")

    @staticmethod
    def extra_args(node: exp.Expression, allowed: tuple[str, ...]) -> list[str]:
        return [k for k, v in node.args.items() if k not in allowed and v not in (None, False, [])]

    # predicates ------------------------------------------------------------------------------------------
    def predicate(self, node: exp.Expression) -> None:
        if isinstance(node, exp.Paren):
            return self.predicate(node.this)
        if isinstance(node, (exp.And, exp.Or)):
            self.predicate(node.this)
            return self.predicate(node.expression)
        if isinstance(node, exp.Not):
            return self.predicate(node.this)
        if isinstance(node, _COMPARISONS):
            left, right = self.value(node.this), self.value(node.expression)
            if "null" in (left, right):
                raise self.fail(f"{clip(node.sql())} compares with NULL (never true); use IS [NOT] NULL")
            self.same(node, left, right)
            return self.lf_operands(node, [node.this, node.expression])
        if isinstance(node, exp.In):
            if node.args.get("query") is not None:
                raise self.fail("a subquery is not allowed")
            if self.extra_args(node, ("this", "expressions")) or not node.expressions:
                raise self.refuse(node)
            kind = self.value(node.this)
            for item in node.expressions:
                if not self.is_literal(item):
                    raise self.fail(f"IN list item {clip(item.sql())} is not a literal")
                self.same(node, kind, self.value(item))
            return self.lf_operands(node, [node.this])
        if isinstance(node, exp.Like):
            if self.extra_args(node, ("this", "expression", "negate")):
                raise self.refuse(node)
            for side in (node.this, node.expression):
                if self.value(side) != "string":
                    raise self.fail(f"LIKE needs text on both sides, got {clip(side.sql())}")
            return self.lf_operands(node, [node.this, node.expression])
        if isinstance(node, exp.Is):
            if not isinstance(node.expression, exp.Null) or self.extra_args(node, ("this", "expression", "negate")):
                raise self.fail(f"{clip(node.sql())} is not allowed; only IS NULL / IS NOT NULL")
            self.value(node.this)
            if self.lake_formation:
                if isinstance(node.this, exp.Column) and node.this.name.lower() in self.partitions:
                    raise self.lf_fail(f"IS NULL on partition column {node.this.name.lower()!r}")
            return self.lf_operands(node, [node.this])
        if isinstance(node, exp.Between):
            if self.extra_args(node, ("this", "low", "high")):
                raise self.refuse(node)
            kind = self.value(node.this)
            for bound in (node.args["low"], node.args["high"]):
                self.same(node, kind, self.value(bound))
            return self.lf_operands(node, [node.this, node.args["low"], node.args["high"]])
        if isinstance(node, (exp.Column, exp.Literal, exp.Boolean, exp.Null)):
            raise self.fail(f"{clip(node.sql())} is not a predicate")
        raise self.refuse(node)

    def same(self, node: exp.Expression, left: str, right: str) -> None:
        if left != right and "null" not in (left, right):
            raise self.fail(f"{clip(node.sql())} compares a {left} with a {right}")

    def lf_operands(self, node: exp.Expression, operands: list[exp.Expression]) -> None:
        """Lake Formation: a column compared with literals only (no functions, no column vs column)."""
        if not self.lake_formation:
            return
        columns = [o for o in operands if isinstance(self.unparen(o), exp.Column)]
        if any(not isinstance(self.unparen(o), exp.Column) and not self.is_literal(o) for o in operands):
            raise self.lf_fail(f"{clip(node.sql())} uses a function or expression")
        if len(columns) != 1:
            raise self.lf_fail(f"{clip(node.sql())} compares a column with a column" if columns
                               else f"{clip(node.sql())} has no column")

    # values ----------------------------------------------------------------------------------------------
    @staticmethod
    def unparen(node: exp.Expression) -> exp.Expression:
        while isinstance(node, exp.Paren):
            node = node.this
        return node

    def is_literal(self, node: exp.Expression) -> bool:
        node = self.unparen(node)
        if isinstance(node, exp.Neg):
            return isinstance(node.this, exp.Literal) and not node.this.is_string
        return isinstance(node, (exp.Literal, exp.Boolean, exp.Null))

    def value(self, node: exp.Expression) -> str:
        """The kind of a value expression: string, number, boolean or null."""
        if isinstance(node, exp.Paren):
            return self.value(node.this)
        if isinstance(node, exp.Column):
            return self.column(node)
        if isinstance(node, exp.Literal):
            return "string" if node.is_string else "number"
        if isinstance(node, exp.Boolean):
            return "boolean"
        if isinstance(node, exp.Null):
            return "null"
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
            return "number"
        if type(node) in FUNCTIONS:
            if self.lake_formation:
                raise self.lf_fail(f"function {FUNCTIONS[type(node)]}() (Lake Formation allows no functions)")
            return self.function(node)
        raise self.refuse(node)

    def function(self, node: exp.Expression) -> str:
        name = FUNCTIONS[type(node)]
        if isinstance(node, (exp.Lower, exp.Upper)):
            if self.extra_args(node, ("this",)) or self.value(node.this) != "string":
                raise self.fail(f"{name}() takes one text argument, got {clip(node.sql())}")
            return "string"
        if isinstance(node, exp.Length):
            if self.extra_args(node, ("this",)) or self.value(node.this) != "string":
                raise self.fail(f"{name}() takes one text argument, got {clip(node.sql())}")
            return "number"
        if isinstance(node, exp.Substring):
            if self.extra_args(node, ("this", "start", "length")) or self.value(node.this) != "string":
                raise self.fail(f"substring() takes text, start[, length], got {clip(node.sql())}")
            for arg in (node.args.get("start"), node.args.get("length")):
                if arg is not None and self.value(arg) != "number":
                    raise self.fail(f"substring() takes numeric start and length, got {clip(node.sql())}")
            return "string"
        # coalesce
        if self.extra_args(node, ("this", "expressions")) or not node.expressions:
            raise self.fail(f"coalesce() takes two or more arguments, got {clip(node.sql())}")
        kinds = {self.value(a) for a in [node.this, *node.expressions]} - {"null"}
        if len(kinds) > 1:
            raise self.fail(f"{clip(node.sql())} mixes {' and '.join(sorted(kinds))}")
        return kinds.pop() if kinds else "null"

    def column(self, node: exp.Column) -> str:
        if node.args.get("db") is not None or node.args.get("catalog") is not None:
            raise self.fail(f"qualified column {clip(node.sql())} is not allowed; use the bare column name")
        qualifier = node.table
        if qualifier and qualifier.lower() != self.table.name:
            raise self.fail(f"column {clip(node.sql())} of another table is not allowed")
        name = node.name.lower()
        column = self.columns.get(name)
        if column is None:
            raise FilterError(f"row_filter {self.shown}: unknown column {_excerpt(node.name)}; expected a column of "
                              f"{self.table.name}: {', '.join(self.table.column_names)}")
        kind = _type_kind(column.type)
        if kind == "other":
            raise FilterError(f"row_filter {self.shown}: column {name!r} has type {column.type}; expected a "
                              "string, number or boolean column")
        if self.lake_formation and column.type.split("(")[0].lower() not in _LF_TYPES:
            raise self.lf_fail(f"column {name!r} has type {column.type}")
        return kind


def parse_row_filter(sql: str, table: Table, *, lake_formation: bool = False) -> exp.Expression:
    """Parse ``sql`` as a row filter over ``table`` and check it is safe; ``FilterError`` otherwise.

    Allowed: comparisons, IN (literals), LIKE, IS [NOT] NULL, BETWEEN, AND/OR/NOT, parentheses, the table's own
    columns (bare or qualified by the table's name), literals and the functions in ``FUNCTIONS``; both sides of a
    comparison of the same kind (text, number, boolean). Refused: subqueries, other tables, other functions,
    ``*``, ``;`` / several statements, comments, DDL/DML. With ``lake_formation``: also what Lake Formation's
    PartiQL row filters refuse (functions, column vs column, IS NULL on partition columns, other column types,
    2048 characters or more). Bounded before parsing: ``MAX_FILTER_CHARS`` characters, ``MAX_FILTER_NESTING``
    levels, ``MAX_FILTER_OPERATORS`` operators.
    """
    expression = _parse(sql, _POLICY_BOUNDS)
    checker = _Checker(sql, table, lake_formation)
    try:
        checker.predicate(expression)
    except RecursionError:  # not expected within the bounds: still one message
        raise FilterError(f"row_filter {checker.shown} is nested too deeply to check; expected at most "
                          f"{MAX_FILTER_NESTING} levels of parentheses") from None
    if lake_formation and len(normalise_filter(sql)) >= LF_MAX_FILTER:
        raise checker.lf_fail(f"is {len(normalise_filter(sql))} characters long (the limit is {LF_MAX_FILTER - 1})")
    return expression


def _canonical(node: exp.Expression) -> exp.Expression:
    """``node`` without any parentheses of its own, AND/OR chains flattened, then parenthesised by one rule: an
    OR under AND, an AND under OR and any AND/OR under NOT. Engines re-render filters with their own parentheses
    (DuckDB stores ``a = 1 AND b = 1`` as ``((a = 1) AND (b = 1))`` and flattens ``a AND (b AND c)``); the
    meaning is the tree, so two spellings of one filter give one tree. Values never need parentheses in a filter
    (no arithmetic is allowed), so dropping them keeps the meaning."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Connector):
        kind = type(node)
        operands: list[exp.Expression] = []
        pending = [node]
        while pending:  # iterative: a long chain of ANDs must not recurse once per operand
            item = pending.pop()
            while isinstance(item, exp.Paren):
                item = item.this
            if type(item) is kind:
                pending.extend([item.expression, item.this])
            else:
                operands.append(item)
        parts = []
        for operand in operands:
            operand = _canonical(operand)
            parts.append(exp.Paren(this=operand) if isinstance(operand, exp.Connector) else operand)
        result = parts[0]
        for part in parts[1:]:
            result = kind(this=result, expression=part)
        return result
    if isinstance(node, exp.Not):
        inner = _canonical(node.this)
        return exp.Not(this=exp.Paren(this=inner) if isinstance(inner, exp.Connector) else inner)
    for key, value in list(node.args.items()):
        if isinstance(value, exp.Expression):
            node.set(key, _canonical(value))
        elif isinstance(value, list):
            node.set(key, [_canonical(v) if isinstance(v, exp.Expression) else v for v in value])
    return node


def normalise_filter(sql: str) -> str:
    """The canonical text of a row filter, accepted by DuckDB and Athena/Trino: sqlglot's rendering of one
    canonical tree (``_canonical``: the engine's or the author's parentheses do not matter, only the meaning),
    with column names lower-cased, unqualified, and quoted only when reserved (e.g. ``"end"``); ``!=`` becomes
    ``<>``, ``x NOT IN (...)`` becomes ``NOT x IN (...)``, ``x IS NOT NULL`` becomes ``NOT x IS NULL``. The same
    filter always gives the same text, whichever engine stored it. Does not check safety (see
    ``parse_row_filter``): it also canonicalises filters read back from Lake Formation and from DuckDB's stored
    view SQL.
    """
    expression = _canonical(_parse(sql).copy())
    for column in list(expression.find_all(exp.Column)):
        name = column.name.lower()
        column.set("table", None)
        column.set("db", None)
        column.set("catalog", None)
        column.set("this", exp.Identifier(this=name, quoted=name.upper() in _RESERVED or name in _RESERVED
                                          or not _PLAIN.match(name)))
    return expression.sql()
