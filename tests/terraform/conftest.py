"""Offline checks of terraform/: the CLI (fmt, init from a local provider mirror, validate, console, apply to a
moto server), an HCL parse, and checkov in its own environment.

Nothing here reaches a registry: `terraform init` installs providers only from the filesystem mirror named in
terraform/offline.tfrc (the project-owned CLI configuration). Everything Terraform writes goes to a temporary copy
of the configuration, initialised once per test session.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ..conftest import ROOT

TERRAFORM_DIR = ROOT / "terraform"
CLI_CONFIG = TERRAFORM_DIR / "offline.tfrc"
CHECKOV_VENV = ROOT / ".ci" / "checkov-venv"
GET_TERRAFORM = ("the Terraform CLI is not installed: install Terraform >= 1.6 (https://developer.hashicorp.com/terraform/"
                 "install, or HashiCorp's apt repository) and re-run; the HCL parse and checkov tests still ran")
# what the configuration reads from outside terraform/ (copied beside it, at the same relative paths)
EXTERNAL_FILES = ("governance/policies.yaml", "genolake_assets/spark_jobs/ingest_vcf.py")


def terraform_bin() -> str | None:
    return shutil.which("terraform")


def mirror_path() -> Path | None:
    """The provider mirror offline.tfrc names, if it exists and holds the AWS provider."""
    found = re.search(r'filesystem_mirror\s*\{[^}]*path\s*=\s*"([^"]+)"', CLI_CONFIG.read_text())
    if not found:
        return None
    path = Path(found.group(1))
    return path if (path / "registry.terraform.io" / "hashicorp" / "aws").is_dir() else None


def tf_env(**extra: str) -> dict[str, str]:
    """The environment every terraform command runs with: the project's CLI configuration, no update check, no
    prompts, no credentials or AWS profile from the machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    env.update(TF_CLI_CONFIG_FILE=str(CLI_CONFIG), CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1", TF_INPUT="0")
    env.update(extra)
    return env


def tf(args: list[str], cwd: Path, *, env: dict[str, str] | None = None, check: bool = True, timeout: float = 300,
       stdin: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([terraform_bin(), *args], cwd=cwd, env=env or tf_env(), capture_output=True, text=True,
                            timeout=timeout, input=stdin)
    if check and result.returncode != 0:
        raise AssertionError(f"terraform {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def copy_configuration(target: Path, *, lock_from: Path | None = None) -> Path:
    """A copy of terraform/ (without local state or .terraform) plus the files it reads from the repository; the
    copy's terraform directory."""
    root = target / "terraform"
    shutil.copytree(TERRAFORM_DIR, root, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl"))
    for relative in EXTERNAL_FILES:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / relative, target / relative)
    if lock_from is not None:
        shutil.copyfile(lock_from / ".terraform.lock.hcl", root / ".terraform.lock.hcl")
    return root


def console(expression: str, cwd: Path, *, data_dir: Path | None = None, var_args: list[str] = ()) -> object:
    """Evaluate ``jsonencode(expression)`` in the configuration at ``cwd`` (no provider calls, no state)."""
    env = tf_env(**({"TF_DATA_DIR": str(data_dir)} if data_dir else {}))
    out = tf(["console", "-no-color", *var_args], cwd, env=env, stdin=f"jsonencode({expression})\n", timeout=120)
    return json.loads(json.loads(out.stdout.strip()))


@pytest.fixture(scope="session")
def terraform_cli():
    if terraform_bin() is None:
        pytest.skip(GET_TERRAFORM)
    return terraform_bin()


@pytest.fixture(scope="session")
def initialised(terraform_cli, tmp_path_factory) -> Path:
    """A copy of the configuration, `terraform init -backend=false` done once per session from the local mirror.
    Other copies reuse its providers and module manifest through TF_DATA_DIR=<this>/.terraform."""
    if mirror_path() is None:
        pytest.skip(f"no local provider mirror at the path {CLI_CONFIG.name} names: terraform init would need a "
                    "registry (validate is replaced by the HCL wiring check in test_static.py)")
    root = copy_configuration(tmp_path_factory.mktemp("tf-init"))
    tf(["init", "-backend=false", "-input=false", "-no-color"], root, timeout=300)
    return root


# ---------------------------------------------------------------------------------------------------- emulator

EMULATOR_TFVARS = Path(__file__).with_name("emulator.tfvars")
EMULATOR_SERVICES = ("athena", "emrserverless", "glue", "iam", "kms", "lakeformation", "s3", "sqs", "sts")
EMULATOR_REGION = "us-east-1"
EMULATOR_ACCOUNT = "123456789012"  # moto's default account


def emulator_override(endpoint: str) -> str:
    """A provider override (terraform merges *_override.tf into the provider block): every service at the emulator,
    throwaway keys, no credential or metadata lookups, path-style S3 addressing."""
    endpoints = "\n".join(f'    {service} = "{endpoint}"' for service in EMULATOR_SERVICES)
    return f"""provider "aws" {{
  access_key                  = "emulator"
  secret_key                  = "emulator"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {{
{endpoints}
  }}
}}
"""


class EmulatorApply:
    """`terraform apply` of a copy of the configuration against a moto server on loopback, started in the
    background (the provider spends most of it waiting for S3 lifecycle rules and SQS attributes to settle, so
    the other Terraform tests run meanwhile)."""

    def __init__(self, initialised: Path, folder: Path):
        import logging
        import time

        from moto.server import ThreadedMotoServer

        from ..aws.conftest import _free_port

        self.werkzeug = logging.getLogger("werkzeug")
        self.werkzeug_level = self.werkzeug.level
        self.werkzeug.setLevel(logging.WARNING)  # one access-log line per request otherwise
        port = _free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.server.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.root = copy_configuration(folder, lock_from=initialised)
        (self.root / "emulator_override.tf").write_text(emulator_override(self.endpoint))
        # the policy with its principals in the emulator's account (the shipped one already is; a policy edited for
        # a real account would otherwise stop the apply at Terraform's same-account precondition)
        self.policy = folder / "policies.emulator.yaml"
        self.policy.write_text(re.sub(r"(arn:aws[a-z-]*:iam::)\d{12}(:role/)", rf"\g<1>{EMULATOR_ACCOUNT}\g<2>",
                                      (ROOT / "governance" / "policies.yaml").read_text()))
        self.env = tf_env(TF_DATA_DIR=str(initialised / ".terraform"))
        self.log = folder / "apply.log"
        self.started = time.monotonic()
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [terraform_bin(), "apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=30",
                 f"-var-file={EMULATOR_TFVARS}", f"-var=region={EMULATOR_REGION}",
                 f"-var=governance_policy_file={self.policy}"],
                cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.seconds: float | None = None

    def wait(self, timeout: float = 540) -> dict:
        """Wait for the apply; its outputs (name -> value)."""
        import time

        try:
            code = self.process.wait(timeout=max(1.0, timeout - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"terraform apply on the emulator did not finish in {timeout:.0f} s:\n"
                                 f"{self.log.read_text()[-5000:]}")
        if self.seconds is None:
            self.seconds = time.monotonic() - self.started
        assert code == 0, f"terraform apply on the emulator failed ({code}):\n{self.log.read_text()[-8000:]}"
        outputs = json.loads(tf(["output", "-json"], self.root, env=self.env).stdout)
        return {name: spec["value"] for name, spec in outputs.items()}

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.server.stop()
        self.werkzeug.setLevel(self.werkzeug_level)


@pytest.fixture(scope="package")  # stopped after the last test of tests/terraform: moto's state is process-wide
def emulator_apply(initialised, tmp_path_factory):
    apply = EmulatorApply(initialised, tmp_path_factory.mktemp("tf-emulator"))
    try:
        yield apply
    finally:
        apply.close()


@pytest.fixture(scope="package", autouse=True)
def _start_the_emulator_apply_early(request):
    """When this session runs the emulator tests, start their `terraform apply` at the first Terraform test."""
    wanted = any(Path(item.path) == Path(__file__).with_name("test_with_emulator.py") for item in request.session.items)
    if wanted and terraform_bin() is not None and mirror_path() is not None:
        request.getfixturevalue("emulator_apply")
