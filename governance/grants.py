"""The unit of governance: one role's access to one table, as planned, applied (Lake Formation) and enforced
(local per-role views). Both targets are compiled from the same policy into these records, so they cannot
disagree. Plain library: no dagster, no boto3.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, Optional

PERMISSIONS = ("DESCRIBE", "SELECT")


@dataclass(frozen=True, order=True)
class Grant:
    """``role`` (its ``principal``: an IAM role ARN on AWS, the role name locally) may use ``database.table``.

    ``columns``: the allowed columns, sorted; ``None`` means every column, including columns added later.
    ``row_filter``: a normalised SQL predicate over the table's own columns; ``None`` means all rows.
    ``permissions``: sorted, a subset of ``PERMISSIONS``.
    """

    principal: str
    database: str
    table: str
    permissions: tuple[str, ...] = ("DESCRIBE", "SELECT")
    columns: Optional[tuple[str, ...]] = None
    row_filter: Optional[str] = None
    role: str = field(default="", compare=False)  # for messages; the principal is the identity

    def __post_init__(self):
        object.__setattr__(self, "permissions", tuple(sorted(set(self.permissions))))
        if self.columns is not None:
            object.__setattr__(self, "columns", tuple(sorted(set(self.columns))))
        unknown = set(self.permissions) - set(PERMISSIONS)
        if unknown:
            raise ValueError(f"unknown permission(s) {sorted(unknown)}; expected {PERMISSIONS}")

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.principal, self.database, self.table)

    def with_role(self, role: str) -> "Grant":
        return replace(self, role=role)

    def describe(self) -> str:
        columns = "all columns" if self.columns is None else ", ".join(self.columns)
        rows = "all rows" if self.row_filter is None else f"rows where {self.row_filter}"
        return f"{'+'.join(self.permissions)} on {self.database}.{self.table}: {columns}; {rows}"


@dataclass(frozen=True)
class Change:
    action: Literal["add", "revoke", "change"]
    before: Optional[Grant] = None  # None for add
    after: Optional[Grant] = None  # None for revoke

    @property
    def grant(self) -> Grant:
        return self.after or self.before  # type: ignore[return-value]


@dataclass
class Plan:
    """What ``apply`` would do: changes keyed by (principal, database, table), plus notes (findings that are
    also changes, e.g. an IAM_ALLOWED_PRINCIPALS grant that keeps Lake Formation from being in force)."""

    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)  # findings apply leaves alone (printed, never block "No changes.")

    @property
    def empty(self) -> bool:
        """Nothing to do: no change and no finding (a note is something apply fixes, e.g. a revoke)."""
        return not self.changes and not self.notes

    def counts(self) -> dict[str, int]:
        return {a: sum(1 for c in self.changes if c.action == a) for a in ("add", "change", "revoke")}
