"""Desired vs actual grants -> a ``Plan`` (``diff``), and its Terraform-like text (``render``).
Plain library: no dagster, no boto3.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

from .grants import Change, Grant, Plan


def _by_key(grants: Iterable[Grant], what: str) -> dict[tuple[str, str, str], Grant]:
    out: dict[tuple[str, str, str], Grant] = {}
    for grant in grants:
        if grant.key in out:
            raise ValueError(f"two {what} grants for {grant.key}; expected one per (principal, database, table)")
        out[grant.key] = grant
    return out


def _same(a: Grant, b: Grant) -> bool:
    return (a.permissions, a.columns, a.row_filter) == (b.permissions, b.columns, b.row_filter)


def diff(desired: Iterable[Grant], actual: Iterable[Grant], notes: Iterable[str] = (),
         info: Iterable[str] = ()) -> Plan:
    """Changes that turn ``actual`` into ``desired``, keyed by ``Grant.key`` and sorted by it: only desired ->
    add; only actual -> revoke; both but different permissions, columns or row filter -> change
    (before = actual, after = desired). ``notes`` (findings apply fixes) and ``info`` (findings apply leaves
    alone) are carried over as they are."""
    want, have = _by_key(desired, "desired"), _by_key(actual, "actual")
    changes = []
    for key in sorted(set(want) | set(have)):
        after, before = want.get(key), have.get(key)
        if before is None:
            changes.append(Change("add", after=after))
        elif after is None:
            changes.append(Change("revoke", before=before))
        elif not _same(before, after):
            changes.append(Change("change", before=before, after=after))
    return Plan(changes=changes, notes=list(notes), info=list(info))


def _who(grant: Grant) -> str:
    if grant.role and grant.role != grant.principal:
        return f"{grant.role} ({grant.principal})"
    return grant.principal


def _permissions(grant: Grant) -> str:
    return ", ".join(grant.permissions)


def _columns(grant: Grant) -> str:
    return "all" if grant.columns is None else ", ".join(grant.columns)


def _rows(grant: Grant) -> str:
    return "all" if grant.row_filter is None else f"where {grant.row_filter}"


_LABELS = (("permissions", _permissions), ("columns", _columns), ("rows", _rows))


def _block(sign: str, verb: str, before: Optional[Grant], after: Optional[Grant]) -> list[str]:
    grant = after or before
    assert grant is not None
    who = _who(after) if after is not None and after.role else _who(grant)
    lines = [f"{sign} {verb} {who} on {grant.database}.{grant.table}"]
    for label, show in _LABELS:
        if before is not None and after is not None:
            old, new = show(before), show(after)
            if old == new:
                lines.append(f"      {label}: {new}")
                continue
            line = f"    ~ {label}: {old} -> {new}"
            if label == "columns" and before.columns is not None and after.columns is not None:
                gone = sorted(set(before.columns) - set(after.columns))
                came = sorted(set(after.columns) - set(before.columns))
                detail = "; ".join(p for p in (f"hides {', '.join(gone)}" if gone else "",
                                               f"shows {', '.join(came)}" if came else "") if p)
                line += f" ({detail})"
            lines.append(line)
        else:
            lines.append(f"    {sign} {label}: {show(grant)}")
    return lines


def render(plan: Plan) -> str:
    """Terraform-like text: one block per change (``+`` add, ``-`` revoke, ``~`` change, showing
    before -> after), then the notes (``!``), then the info (``i``), then
    ``Plan: N to add, N to change, N to revoke.``. Without changes and notes the last line is ``No changes.``
    (after the info, if any): an empty plan with no notes and no info is exactly ``No changes.``."""
    info = list(getattr(plan, "info", []))
    info_block = "\n".join(["Info (left alone):", *(f"  i {line}" for line in info)]) if info else ""
    if not plan.changes and not plan.notes:
        return "\n\n".join(b for b in (info_block, "No changes.") if b)
    blocks: list[str] = []
    for change in plan.changes:
        if change.action == "add":
            blocks.append("\n".join(_block("+", "grant", None, change.after)))
        elif change.action == "revoke":
            blocks.append("\n".join(_block("-", "revoke", change.before, None)))
        else:
            blocks.append("\n".join(_block("~", "change", change.before, change.after)))
    if plan.notes:
        blocks.append("\n".join(["Notes:", *(f"  ! {note}" for note in plan.notes)]))
    if info_block:
        blocks.append(info_block)
    counts = plan.counts()
    blocks.append(f"Plan: {counts['add']} to add, {counts['change']} to change, {counts['revoke']} to revoke.")
    return "\n\n".join(blocks)
