"""Governance as a resource: plan and apply the policy file against the current mode's target.

``LocalGovernance``: the grants recorded in ``<home>/query.duckdb`` and its per-role views (``governance.local``).
``LakeFormationGovernance``: Lake Formation permissions, data cells filters and LF-tags on the Glue database
(``governance.lakeformation``). Both compile the same policy with ``governance.compile`` and diff with
``governance.plan``: what ``plan`` prints is what ``apply`` does, and after ``apply`` the plan is empty.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import ConfigurableResource

from governance.grants import Grant, Plan

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POLICY = ROOT / "governance" / "policies.yaml"


def policy_path(path: str | os.PathLike | None = None) -> Path:
    """The policy file: the given path, else ``GENOLAKE_POLICY``, else the repository's governance/policies.yaml."""
    return Path(path or os.environ.get("GENOLAKE_POLICY") or DEFAULT_POLICY)


def desired_grants(path: str | os.PathLike | None, target: str, database: str | None = None) -> list[Grant]:
    """The policy compiled for ``target``; on AWS the grants name the configured Glue ``database``."""
    from genolake_assets.transforms.tables import TABLES
    from governance.compile import compile_policy
    from governance.model import load_policy

    return compile_policy(load_policy(policy_path(path)), target, database=database, tables=TABLES)


class GovernanceTarget(ConfigurableResource):
    """What the governance asset, its check and the CLI need from a target."""

    @property
    def target(self) -> str:
        raise NotImplementedError

    def actual(self) -> list[Grant]:
        raise NotImplementedError

    def plan(self, path=None) -> tuple[Plan, list[Grant]]:
        raise NotImplementedError

    def apply(self, path=None) -> Plan:
        raise NotImplementedError


class LocalGovernance(GovernanceTarget):
    home: str

    @property
    def target(self) -> str:
        return "local"

    def _connect(self, read_only: bool):
        from .sql_views import SqlViews

        views = SqlViews(self.home)
        if read_only and not os.path.exists(views.path):
            return None
        return views.connect(read_only=read_only)

    def actual(self) -> list[Grant]:
        """The grants the catalog's role views enforce now (drift included)."""
        from genolake_assets.transforms.tables import TABLES
        from governance.local import read_effective

        con = self._connect(read_only=True)
        if con is None:
            return []
        try:
            return read_effective(con, {name: t.column_names for name, t in TABLES.items()})
        finally:
            con.close()

    def plan(self, path=None) -> tuple[Plan, list[Grant]]:
        from governance.plan import diff

        desired = desired_grants(path, self.target)
        return diff(desired, self.actual()), desired

    def apply(self, path=None) -> Plan:
        from governance.local import apply

        plan, desired = self.plan(path)
        if plan.empty:
            return plan
        con = self._connect(read_only=False)
        try:
            apply(con, desired)
        finally:
            con.close()
        return plan


class LakeFormationGovernance(GovernanceTarget):
    database: str
    region: str = ""

    @property
    def target(self) -> str:
        return "aws"

    def _lf(self):
        from .aws import client

        return client("lakeformation", self.region or None)

    def _tables(self) -> dict[str, list[str]]:
        from genolake_assets.transforms.tables import TABLES

        return {name: table.column_names for name, table in TABLES.items()}

    def actual(self, path=None) -> list[Grant]:
        return self._read(path)[0]

    def _read(self, path=None) -> tuple[list[Grant], list[str]]:
        """Lake Formation's grants, each named by the policy's role for its principal (an undeclared principal
        is named by itself)."""
        from governance.lakeformation import read_actual

        from .aws import aws_errors

        tables = self._tables()
        with aws_errors(f"reading Lake Formation permissions on {self.database}"):
            grants, notes = read_actual(self._lf(), self.database, list(tables), columns_of=tables)
        from governance.model import PolicyError

        try:
            role_of = {g.principal: g.role for g in desired_grants(path, self.target, self.database)}
        except (PolicyError, OSError):  # an invalid or missing policy: the grants are still worth showing
            role_of = {}
        return [g.with_role(role_of.get(g.principal, g.principal)) for g in grants], notes

    def plan(self, path=None) -> tuple[Plan, list[Grant]]:
        from governance.plan import diff

        desired = desired_grants(path, self.target, self.database)
        actual, notes = self._read(path)
        plan = diff(desired, actual, [n for n in notes if n.endswith("revoking it")])  # what apply fixes
        plan.info = [n for n in notes if not n.endswith("revoking it")]  # reported, left alone
        return plan, desired

    def apply(self, path=None) -> Plan:
        from governance.compile import classified_columns
        from governance.lakeformation import apply, sync_lf_tags

        from .aws import aws_errors

        plan, _ = self.plan(path)
        lf = self._lf()
        tables = self._tables()
        with aws_errors(f"applying Lake Formation permissions on {self.database}"):
            sync_lf_tags(lf, self.database, classified_columns(), columns_of=tables)
            if not plan.empty:
                apply(lf, plan, self.database, list(tables), columns_of=tables)
        return plan
