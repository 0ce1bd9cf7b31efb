"""The words every adapter shows for tool steps and approvals, styled by each platform."""

from __future__ import annotations

from datetime import timedelta

from core.types import ApprovalResult, ApprovalSettled, ToolStep

_MARKS = {"running": "⏳", "waiting": "✋", "ok": "✅", "failed": "❌", "denied": "🚫"}
# What the engine's note says of a request that ended without a person's decision.
_UNDECIDED = {"expired": "not approved in time", "cancelled": "cancelled: the turn ended"}


def step_line(step: ToolStep, *, code: bool = True) -> str:
    """One compact line for a tool call: "⏳ `docs.search`…", "✅ `docs.search` · 0.4 s".

    The name is code-formatted where the platform reads Markdown: a tool's underscores must
    not turn into italics."""
    name = f"`{step.name}`" if code else step.name
    mark = _MARKS[step.state]
    if step.state == "running":
        return f"{mark} {name}…"
    if step.state == "waiting":
        return f"{mark} {name} · waiting for approval"
    details = [_UNDECIDED.get(step.note, step.note)] if step.note else []
    if step.seconds is not None and (step.state == "ok" or not step.note):
        details.append(seconds_text(step.seconds))
    if step.state == "failed" and not details:
        details.append("failed")
    return " · ".join([f"{mark} {name}", *details])


def seconds_text(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def progress_text(steps: list[ToolStep]) -> str:
    """A status line for steps still under way ("" when none is): where a line cannot be
    changed once shown (Slack's native streams), this says what is happening meanwhile."""
    waiting = [s.name for s in steps if s.state == "waiting"]
    running = [s.name for s in steps if s.state == "running"]
    if waiting:
        return f"is waiting for approval of {', '.join(waiting)}…"
    if running:
        return f"is running {', '.join(running)}…"
    return ""


def duration_text(span: timedelta) -> str:
    """ "10 minutes", "1 minute", "30 seconds": how long a request waited."""
    seconds = max(0, round(span.total_seconds()))
    if seconds >= 60 and seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def decision_text(settled: ApprovalSettled, allowed: timedelta) -> str:
    """How a request ended, for its message: "Approved by Ann", "Expired: not approved
    within 10 minutes". `allowed` is how long it could wait."""
    by = settled.by or "someone"
    if settled.decision == "approved":
        return f"Approved by {by}"
    if settled.decision == "denied":
        return f"Denied by {by}"
    if settled.decision == "expired":
        return f"Expired: not approved within {duration_text(allowed)}"
    return "Cancelled: the turn ended"


def decision_mark(settled: ApprovalSettled) -> str:
    return {"approved": "✅", "denied": "🚫", "expired": "⌛"}.get(settled.decision, "✖️")


def refusal_text(result: ApprovalResult, asker: str) -> str | None:
    """The short note a refused click gets, to the clicker alone; None for a decision."""
    return {
        "not_allowed": f"Only {asker or 'the person who asked'} or an admin can approve this.",
        "decided": "Already decided.",
        "expired": "This request expired.",
        "unknown": "This request is no longer waiting.",
    }.get(result)
