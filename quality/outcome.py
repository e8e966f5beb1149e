"""What every check in quality/ returns: passed or not, how many rows fail, and a sample of them.

Plain data (pyarrow for the rows); genolake_assets/checks.py turns it into a Dagster AssetCheckResult whose
metadata shows the message, the failing-row count and the sample as a Markdown table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SAMPLE_ROWS = 10  # failing rows kept per check


@dataclass
class CheckOutcome:
    passed: bool
    message: str = ""  # one line a user can act on: "af: 3 rows outside [0, 1]; calls: 12 rows more than sites say"
    failing_rows: int = 0  # rows that fail (0 when passed; for table-level checks the rows that show the failure)
    sample: Any = None  # pyarrow.Table of up to SAMPLE_ROWS failing rows (None when passed or not row-shaped)
    details: dict = field(default_factory=dict)  # extra figures for the UI (JSON-able scalars)
    # which library ran it: "pandera" or "great_expectations" or "spark"/"sql" for hand-computed checks
    engine: str = ""

    def summary(self) -> str:
        return "ok" if self.passed else self.message


def merge(outcomes: list[CheckOutcome], engine: str = "") -> CheckOutcome:
    """One outcome for several partial ones (e.g. a table validated batch by batch)."""
    import pyarrow as pa

    failed = [o for o in outcomes if not o.passed]
    if not failed:
        return CheckOutcome(True, engine=engine or (outcomes[0].engine if outcomes else ""),
                            details=outcomes[0].details if outcomes else {})
    samples = [o.sample for o in failed if o.sample is not None and o.sample.num_rows]
    sample = None
    if samples:
        try:
            sample = pa.concat_tables(samples, promote_options="permissive").slice(0, SAMPLE_ROWS)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            sample = samples[0].slice(0, SAMPLE_ROWS)
    details = {k: v for o in outcomes for k, v in (o.details or {}).items()}
    return CheckOutcome(False, "; ".join(dict.fromkeys(o.message for o in failed)),
                        sum(o.failing_rows for o in failed), sample, details, engine=engine or failed[0].engine)
