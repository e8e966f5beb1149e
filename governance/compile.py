"""Policy -> ``Grant`` records for a target: ``local`` (principal = role name, enforced by per-role views) or
``aws`` (principal = the role's IAM role ARN, applied as Lake Formation permissions). Both come from the same
policy through the same code, so the grants differ only in their principals. Plain library: no dagster, no boto3.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Optional

from genolake_assets.transforms.tables import TABLES, Table

from .grants import Grant
from .model import FilterError, Policy, PolicyError, normalise_filter, parse_row_filter, validate_policy, where

TARGETS = ("local", "aws")


def compile_policy(policy: Policy, target: str, database: Optional[str] = None,
                   tables: Mapping[str, Table] = TABLES) -> list[Grant]:
    """The grants ``policy`` asks for on ``target``, sorted by ``Grant.key``.

    ``database``: the catalog database (default: the policy's ``database``; on AWS, the Glue database).
    ``tables``: the table contracts; columns come from them at compile time, so a column classified
    ``identifier`` later is hidden from every grant that excludes identifiers without editing the policy.
    ``columns`` is ``None`` when a grant shows every column of the table (partition columns included).
    For ``aws``, row filters must also fit Lake Formation's PartiQL subset (``PolicyError`` otherwise).
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
    validate_policy(policy, tables)
    database = database or policy.database
    grants = []
    for role_name, role in policy.roles.items():
        principal = role_name if target == "local" else role.principal
        for index, spec in enumerate(role.grants):
            table = tables[spec.table]
            row_filter = None
            if spec.row_filter is not None:
                if target == "aws":
                    try:
                        parse_row_filter(spec.row_filter, table, lake_formation=True)
                    except FilterError as e:
                        raise PolicyError(f"{where(policy.source, role_name, index, spec.table)}: {e} "
                                          "(target aws)") from None
                row_filter = normalise_filter(spec.row_filter)
            grants.append(Grant(principal=principal, database=database, table=spec.table,
                                permissions=spec.permissions, columns=spec.visible_columns(table),
                                row_filter=row_filter, role=role_name))
    return sorted(grants, key=lambda g: g.key)


def classified_columns(tables: Mapping[str, Table] = TABLES) -> dict[str, dict[str, str]]:
    """table -> column -> classification, for every table (an empty mapping when none is classified);
    e.g. for Lake Formation LF-tags."""
    return {name: {c.name: c.classification for c in table.all_columns if c.classification}
            for name, table in sorted(tables.items())}


def visible(grants: Iterable[Grant], role: str, table: str) -> Optional[Grant]:
    """The grant of ``role`` (its name, or its principal) on ``table``, or ``None`` when it may not see it."""
    for grant in grants:
        if grant.table == table and role in (grant.role, grant.principal):
            return grant
    return None
