"""Governance layer: the policy file (an observable source: editing it makes the permissions stale) and the
permissions applied from it after the catalogued tables change (Lake Formation on AWS, per-role views locally),
with a check that compares the effective grants with the declared ones and fails on drift."""

from __future__ import annotations

import hashlib
import warnings

from dagster import (
    AssetCheckResult,
    AssetKey,
    AutomationCondition,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
    AssetSpec,
    BetaWarning,
    ObserveResult,
    asset_check,
    multi_observable_source_asset,
)

from genolake_assets.layers.catalog import CATALOGUED
from resources.governance import GovernanceTarget, policy_path

from .common import OWNERS

POLICY_KEY = AssetKey(["governance", "policy_file"])


POLICY_SPEC = AssetSpec(
    POLICY_KEY,
    group_name="governance",
    kinds={"yaml"},
    owners=OWNERS,
    description="governance/policies.yaml (or GENOLAKE_POLICY): roles -> tables -> columns / row filters, reviewed "
                "like code. Observed, its data version is the file's sha256: editing it makes the permissions stale.",
)


def policy_version(path) -> str:
    """The policy file's data version: the first 16 hex digits of its sha256 (the observation's and the sensor's)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def policy_observation(instance):
    """``(path, version, observation)``: an ``AssetObservation`` of ``governance/policy_file`` when the file's
    version differs from the newest recorded observation (never observed included), else ``None``. The policy
    sensor returns it; ``genolake ingest`` records it before publishing, so the CLI and the daemon agree."""
    from dagster import AssetObservation
    from dagster._core.definitions.data_version import DATA_VERSION_TAG  # no public way to version an observation

    path = policy_path()
    version = policy_version(path)
    records = instance.fetch_observations(POLICY_KEY, limit=1).records
    recorded = records[0].asset_observation.data_version if records else None
    if recorded == version:
        return path, version, None
    return path, version, AssetObservation(
        asset_key=POLICY_KEY, tags={DATA_VERSION_TAG: version},
        metadata={"path": MetadataValue.path(str(path)), "previous_version": recorded or "none"})


def _observe_policy():
    path = policy_path()
    yield ObserveResult(asset_key=POLICY_KEY, data_version=DataVersion(policy_version(path)),
                        metadata={"path": MetadataValue.path(str(path))})


with warnings.catch_warnings():  # the only way to give an observable source kinds and owners is still "beta"
    warnings.simplefilter("ignore", BetaWarning)
    policy_file = multi_observable_source_asset(specs=[POLICY_SPEC], name="policy_file")(_observe_policy)


def role_table(grants) -> str:
    lines = ["| role | principal | table | permissions | columns | rows |", "|---|---|---|---|---|---|"]
    for g in sorted(grants, key=lambda g: (g.role, g.table)):
        columns = "all" if g.columns is None else ", ".join(g.columns)
        rows = "all" if g.row_filter is None else f"`{g.row_filter}`"
        lines.append(f"| {g.role} | `{g.principal}` | {g.table} | {', '.join(g.permissions)} | {columns} | {rows} |")
    return "\n".join(lines)


@asset(
    key=["governance", "permissions"],
    deps=[POLICY_KEY, *[AssetKey(["catalog", t.name]) for t in CATALOGUED],
          AssetKey(["annotated", "annotated_variants"]), AssetKey(["qc", "variant_qc"]), AssetKey(["qc", "sample_qc"]),
          AssetKey(["reports", "drug_response_report"])],
    group_name="governance",
    kinds={"lakeformation", "duckdb"},
    owners=OWNERS,
    description="The policy applied like Terraform (plan, then apply; what is not declared is revoked): Lake "
                "Formation permissions, data cells filters and LF-tags on AWS, per-role views locally.",
    automation_condition=AutomationCondition.eager(),
)
def permissions(context, governance: GovernanceTarget) -> MaterializeResult:
    from governance.plan import render

    path = policy_path()
    plan = governance.apply(path)
    effective = governance.actual()
    counts = plan.counts()
    context.log.info(f"governance ({governance.target}): {render(plan).splitlines()[-1]}")
    return MaterializeResult(metadata={
        "target": governance.target,
        "policy": MetadataValue.path(str(path)),
        "plan": MetadataValue.md("```\n" + render(plan) + "\n```"),
        "added": counts["add"], "changed": counts["change"], "revoked": counts["revoke"],
        "roles": len({g.role for g in effective}),
        "grants": len(effective),
        "what each role sees": MetadataValue.md(role_table(effective)),
    })


# The check's own automation condition: the automation's runs that apply the permissions together with the annotation
# or the report (whose checks are in their assets' ops, so Dagster names them in the run request) named only those
# checks, and matches_policy was left out; with its own condition it is requested whenever the permissions are (and
# after they change in a run that did not run it).
@asset_check(asset=permissions, description="The effective grants equal the declared ones (fails on drift: a "
                                             "grant added or changed by hand, an IAM_ALLOWED_PRINCIPALS grant).",
             automation_condition=AutomationCondition.eager())
def matches_policy(governance: GovernanceTarget) -> AssetCheckResult:
    from governance.plan import render

    plan, desired = governance.plan(policy_path())
    return AssetCheckResult(passed=plan.empty, metadata={
        "declared_grants": len(desired),
        "drift": MetadataValue.md("```\n" + render(plan) + "\n```"),
    })
