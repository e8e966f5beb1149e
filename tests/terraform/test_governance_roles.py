"""One source of truth for the governance roles: the IAM roles Terraform creates come from governance/policies.yaml.

Terraform reads the policy (`yamldecode(file(...))` in terraform/main.tf) and names each role after its principal
ARN; modules/iam creates `aws_iam_role.governance` with exactly that name and path (test_with_emulator.py checks the
created ARNs). Here `terraform console` evaluates what Terraform derives from a policy, with no provider call and
no state, and `disagreements` compares it with the policy as genolake's governance loads it. The check is shown
failing on modified copies: a policy principal in another account, a Terraform copy that names the roles its own
way, and one that leaves a role out.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from genolake_assets.transforms.tables import CLASSIFICATIONS
from governance.model import POLICY_PATH, load_policy

from .conftest import console, copy_configuration

# the account the policy's principals name (the shipped policy: the placeholder 123456789012, also the emulator's)
ACCOUNT = min(re.findall(r"arn:aws[a-z-]*:iam::(\d{12}):role/", POLICY_PATH.read_text()) or ["123456789012"])
OTHER_ACCOUNT = "210987654321" if ACCOUNT != "210987654321" else "123456789012"


def disagreements(principals: dict[str, str], terraform_roles: dict[str, dict], account: str = ACCOUNT) -> list[str]:
    """What differs between the policy's principals (role -> ARN) and the IAM roles Terraform would create in
    ``account`` (role -> {name, path}); empty when Terraform creates exactly the roles the policy grants to."""
    problems = []
    for role, principal in sorted(principals.items()):
        created = terraform_roles.get(role)
        if created is None:
            problems.append(f"{role}: the policy grants to {principal}, but Terraform creates no IAM role for it")
            continue
        arn = f"arn:aws:iam::{account}:role{created['path']}{created['name']}"
        if arn != principal:
            problems.append(f"{role}: the policy grants to {principal}, but Terraform would create {arn}")
    for role in sorted(set(terraform_roles) - set(principals)):
        problems.append(f"{role}: Terraform creates an IAM role that the policy does not name")
    return problems


def policy_principals(path: Path) -> dict[str, str]:
    return {name: role.principal for name, role in load_policy(path).roles.items()}


def terraform_roles(workdir: Path, *, data_dir: Path | None = None, policy: Path | None = None) -> dict[str, dict]:
    var_args = ["-var", f"governance_policy_file={policy}"] if policy else []
    return console("local.governance_iam_roles", workdir, data_dir=data_dir, var_args=var_args)


def modified_policy(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(POLICY_PATH.read_text())
    change(data["roles"])
    target = tmp_path / "policies.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    load_policy(target)  # still a valid policy for genolake's governance
    return target


@pytest.fixture
def terraform_copy(initialised, tmp_path):
    """Another copy of the configuration that shares the session's `terraform init` (TF_DATA_DIR)."""
    root = copy_configuration(tmp_path / "copy", lock_from=initialised)
    return root, initialised / ".terraform"


def test_terraform_creates_exactly_the_roles_the_policy_grants_to(initialised):
    principals = policy_principals(POLICY_PATH)
    roles = terraform_roles(initialised)
    assert principals and disagreements(principals, roles) == []
    for role, principal in principals.items():  # named after the ARN, not after the policy's role name
        assert roles[role]["name"] == principal.rsplit("/", 1)[1]
        # and each role queries in its own Athena workgroup (its own results folder)
        assert roles[role]["workgroup"] == "genolake-" + role.replace("_", "-")


def test_a_role_added_to_the_policy_gets_its_iam_role(initialised, tmp_path):
    def add_auditor(roles):
        roles["auditor"] = {"principal": f"arn:aws:iam::{ACCOUNT}:role/teams/genolake-auditor",
                            "description": "Auditors: the report only.",
                            "grants": [{"table": "drug_response_report"}]}

    policy = modified_policy(tmp_path, add_auditor)
    roles = terraform_roles(initialised, policy=policy)
    assert roles["auditor"]["name"] == "genolake-auditor" and roles["auditor"]["path"] == "/teams/"
    assert disagreements(policy_principals(policy), roles) == []


def test_the_check_fails_on_a_principal_terraform_would_not_create(initialised, tmp_path):
    def other_account(roles):
        roles["researcher"]["principal"] = f"arn:aws:iam::{OTHER_ACCOUNT}:role/genolake-researcher"

    policy = modified_policy(tmp_path, other_account)
    assert disagreements(policy_principals(policy), terraform_roles(initialised, policy=policy)) == [
        f"researcher: the policy grants to arn:aws:iam::{OTHER_ACCOUNT}:role/genolake-researcher, but Terraform would "
        f"create arn:aws:iam::{ACCOUNT}:role/genolake-researcher"]


def test_the_check_fails_when_terraform_names_a_role_differently(terraform_copy):
    root, data_dir = terraform_copy
    main = root / "main.tf"
    derivation = 'name        = r.parsed == null ? "" : r.parsed[3]'
    assert derivation in main.read_text()
    main.write_text(main.read_text().replace(derivation, 'name        = "lake-${role}"'))
    principals = policy_principals(POLICY_PATH)
    problems = disagreements(principals, terraform_roles(root, data_dir=data_dir))
    assert problems == [f"{role}: the policy grants to {principal}, but Terraform would create "
                        f"arn:aws:iam::{ACCOUNT}:role/lake-{role}" for role, principal in sorted(principals.items())]


def test_the_check_fails_when_terraform_leaves_a_role_out(terraform_copy):
    root, data_dir = terraform_copy
    principals = policy_principals(POLICY_PATH)
    left_out = sorted(principals)[-1]
    main = root / "main.tf"
    loop = "for role, spec in local.policy.roles : role => {"
    text = main.read_text()
    start = text.index(loop)
    end = text.index("\n    }\n  }", start) + len("\n    }")
    main.write_text(text[:end] + f' if role != "{left_out}"' + text[end:])
    problems = disagreements(principals, terraform_roles(root, data_dir=data_dir))
    assert problems == [f"{left_out}: the policy grants to {principals[left_out]}, but Terraform creates no IAM role for it"]


def test_lf_tag_values_are_the_table_contracts_classifications(initialised):
    assert sorted(console("local.classifications", initialised)) == sorted(CLASSIFICATIONS)
