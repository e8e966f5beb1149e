"""The plain libraries stay plain: importing them loads no Dagster (only ``genolake_assets/`` and ``resources/``'s
resource classes may), and the catalog library loads no Spark either. Each import runs in a fresh interpreter, so
what another test imported cannot hide a dependency."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLAIN = ["resources.lakehouse", "resources.sql_views", "governance.model", "governance.compile", "governance.plan",
         "governance.local", "governance.lakeformation", "quality.schemas", "quality.gx_suites", "quality.consistency",
         "quality.duck", "quality.reconcile", "genolake_assets.transforms.tables", "genolake_assets.transforms.vcf",
         "genolake_assets.transforms.qc", "genolake_assets.transforms.clinvar"]
NO_SPARK = ["resources.lakehouse", "resources.sql_views", "governance.local", "genolake_assets.transforms.vcf"]


def _loaded(module: str) -> set[str]:
    code = (f"import importlib, json, sys; importlib.import_module({module!r}); "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", PLAIN)
def test_a_plain_library_loads_no_dagster(module):
    loaded = _loaded(module)
    assert "dagster" not in loaded, f"{module} imports dagster"
    if module in NO_SPARK:
        assert "pyspark" not in loaded, f"{module} imports pyspark"


def test_the_check_sees_dagster_when_it_is_there():
    """The probe can fail: the code location does load Dagster."""
    assert "dagster" in _loaded("genolake_assets.definitions")
