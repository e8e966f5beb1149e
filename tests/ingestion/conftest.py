import pytest

from tests.conftest import ROOT

DATA = ROOT / "data"
VCFS = sorted(
    p for p in DATA.rglob("*")
    if p.is_file() and p.name.endswith((".vcf", ".vcf.gz", ".vcf.bgz"))
)
PARITY: list[tuple[str, int, int, int]] = []


def pytest_terminal_summary(terminalreporter):
    if not PARITY:
        return
    terminalreporter.section("bcftools parity (genotypes after bcftools norm -m -any)")
    terminalreporter.write_line(f"{'file':<75} {'compared':>10} {'mismatching':>12} {'ALT . (not stored)':>19}")
    for name, compared, mismatching, skipped in sorted(PARITY):
        terminalreporter.write_line(f"{name:<75} {compared:>10,} {mismatching:>12,} {skipped:>19,}")
    total = sum(p[1] for p in PARITY)
    bad = sum(p[2] for p in PARITY)
    terminalreporter.write_line(f"{len(PARITY)} files, {total:,} genotypes compared, {bad:,} mismatching")


@pytest.fixture(scope="session")
def parity_log():
    return PARITY
