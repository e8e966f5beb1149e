"""terraform/ checked offline: fmt, init + validate from the local provider mirror, and an HCL parse of every
module's variables and outputs (the wiring `validate` would check, also when no mirror or CLI is there)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from resources.aws import ENV

from .conftest import CHECKOV_VENV, TERRAFORM_DIR, tf

# every variable the aws mode reads, and so an output of the root module (resources/aws.py, resources/emr.py,
# resources/__init__.py)
ENV_OUTPUTS = sorted({*ENV.values(), "GENOLAKE_LANDING_QUEUE_URL", "GENOLAKE_EMR_APPLICATION_ID",
                      "GENOLAKE_EMR_EXECUTION_ROLE_ARN", "GENOLAKE_JOBS_URI"})
META_ARGUMENTS = {"source", "version", "count", "for_each", "providers", "depends_on"}

# Runs with whichever interpreter has the `hcl2` module (python-hcl2, or checkov's fork of it): one JSON summary per
# module directory. Only block names and attribute keys are used, which both parsers report the same way.
PARSE = r"""
import json, sys
from pathlib import Path
import hcl2

def blocks(doc, kind):
    for block in doc.get(kind, []):
        yield from block.items()

summary = {}
for directory in sys.argv[1:]:
    module = {"variables": {}, "outputs": {}, "locals": [], "modules": {}, "text": ""}
    for path in sorted(Path(directory).glob("*.tf")):
        text = path.read_text()
        module["text"] += text + "\n"
        with open(path) as handle:
            doc = hcl2.load(handle)
        for name, body in blocks(doc, "variable"):
            module["variables"][name] = {"default": "default" in body, "description": bool(body.get("description")),
                                         "type": "type" in body, "validation": "validation" in body}
        for name, body in blocks(doc, "output"):
            module["outputs"][name] = {"description": bool(body.get("description"))}
        for block in doc.get("locals", []):
            module["locals"].extend(k for k in block if not k.startswith("__"))
        for name, body in blocks(doc, "module"):
            source = body["source"][0] if isinstance(body["source"], list) else body["source"]
            module["modules"][name] = {"source": source.strip('"'), "arguments": sorted(k for k in body if not k.startswith("__"))}
    summary[directory] = module
print(json.dumps(summary))
"""


def _parse(directories: list[str]) -> dict:
    for python in (CHECKOV_VENV / "bin" / "python", sys.executable):
        if not os.path.exists(python):
            continue
        probe = subprocess.run([str(python), "-c", "import hcl2"], capture_output=True)
        if probe.returncode == 0:
            out = subprocess.run([str(python), "-c", PARSE, *directories], capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr
            return json.loads(out.stdout)
    pytest.skip("no HCL parser: `make checkov-env` creates .ci/checkov-venv, which has one")


@pytest.fixture(scope="module")
def parsed() -> dict:
    directories = [str(TERRAFORM_DIR)] + sorted(str(p) for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir())
    summary = _parse(directories)
    return {str(TERRAFORM_DIR.joinpath(k).resolve().relative_to(TERRAFORM_DIR)) if k != str(TERRAFORM_DIR) else ".": v
            for k, v in summary.items()}


def test_fmt(terraform_cli):
    result = tf(["fmt", "-check", "-recursive", "-diff", "-no-color"], TERRAFORM_DIR, check=False, timeout=60)
    assert result.returncode == 0, f"terraform fmt would change these files (run `terraform fmt -recursive terraform`):\n{result.stdout}{result.stderr}"


def test_validate(initialised):
    result = tf(["validate", "-json", "-no-color"], initialised, check=False, timeout=120)
    report = json.loads(result.stdout)
    problems = [f"{d['severity']}: {d['summary']} ({d.get('range', {}).get('filename', '')}:"
                f"{d.get('range', {}).get('start', {}).get('line', '')}) {d.get('detail', '')}"
                for d in report["diagnostics"]]
    assert report["valid"] and not problems, "\n".join(problems)


def test_every_module_call_passes_exactly_the_module_variables(parsed):
    calls = parsed["."]["modules"]
    assert set(calls) == {"storage", "catalog", "lakeformation", "iam", "athena", "events", "compute"}
    for name, call in calls.items():
        module = parsed[call["source"].removeprefix("./")]
        arguments = set(call["arguments"]) - META_ARGUMENTS
        unknown = arguments - set(module["variables"])
        missing = {v for v, spec in module["variables"].items() if not spec["default"]} - arguments
        assert not unknown, f"module {name} is given variables it does not declare: {sorted(unknown)}"
        assert not missing, f"module {name} is not given its required variables: {sorted(missing)}"


def test_every_module_output_referenced_exists(parsed):
    calls = parsed["."]["modules"]
    for module_name, output in sorted(set(re.findall(r"\bmodule\.(\w+)\.(\w+)", parsed["."]["text"]))):
        assert module_name in calls, f"module.{module_name} is referenced but not declared"
        outputs = parsed[calls[module_name]["source"].removeprefix("./")]["outputs"]
        assert output in outputs, f"module.{module_name}.{output} is referenced but {module_name} has no such output"


def test_every_variable_and_local_referenced_is_declared(parsed):
    for directory, module in parsed.items():
        text = re.sub(r"#.*", "", module["text"])
        for name in sorted(set(re.findall(r"\bvar\.(\w+)", text))):
            assert name in module["variables"], f"{directory}: var.{name} is used but not declared"
        for name in sorted(set(re.findall(r"\blocal\.(\w+)", text))):
            assert name in module["locals"], f"{directory}: local.{name} is used but not defined"


def test_variables_and_outputs_are_described(parsed):
    for directory, module in parsed.items():
        for name, spec in module["variables"].items():
            assert spec["description"] and spec["type"], f"{directory}: variable {name} needs a description and a type"
        for name, spec in module["outputs"].items():
            assert spec["description"], f"{directory}: output {name} needs a description"
    root = parsed["."]["variables"]
    free_text = {"governance_policy_file", "tags"} | {n for n in root if n.startswith(("enable_", "add_", "force_", "deny_"))}
    unvalidated = sorted(n for n, spec in root.items() if not spec["validation"] and n not in free_text)
    assert not unvalidated, f"root variables without a validation block: {unvalidated}"


def test_outputs_are_the_aws_mode_environment(parsed):
    outputs = parsed["."]["outputs"]
    assert set(ENV_OUTPUTS) <= set(outputs), f"missing outputs: {sorted(set(ENV_OUTPUTS) - set(outputs))}"
    assert "genolake_env" in outputs
