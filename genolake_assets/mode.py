"""The one switch: which mode genolake runs in and where its local home is.

Read on demand (never at import time), so tests and the CLI can point GENOLAKE_HOME somewhere else
before anything touches the disk. No dagster import here: transforms and the CLI share it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MODES = ("local", "aws")


@dataclass(frozen=True)
class Settings:
    mode: str
    home: Path

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def raw(self) -> Path:
        return self.home / "raw"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse"

    @property
    def catalog_db(self) -> Path:
        return self.home / "catalog.db"

    @property
    def report_cohort(self) -> str:
        """The drug-response report's cohort: a SQL LIKE pattern on sample IDs (GENOLAKE_REPORT_COHORT). The
        default, ``%``, is every sample, which fits any data; the demo passes its CEU cohort (``NA12%``)."""
        from .transforms.report import DEFAULT_COHORT

        return os.environ.get("GENOLAKE_REPORT_COHORT", "").strip() or DEFAULT_COHORT

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster")


def current() -> Settings:
    mode = os.environ.get("GENOLAKE_MODE", "local").strip().lower() or "local"
    if mode not in MODES:
        raise ValueError(f"GENOLAKE_MODE must be one of {MODES}, got {mode!r}")
    home = Path(os.environ.get("GENOLAKE_HOME", ".genolake")).expanduser().resolve()
    return Settings(mode=mode, home=home)
