"""The short notes shown under a reply, worded once for every adapter."""

from __future__ import annotations

from core.types import TurnSummary


def summary_notes(summary: TurnSummary) -> list[str]:
    """The short notes every adapter shows under a reply; adapters style them their way."""
    notes: list[str] = []
    if summary.dropped_messages:
        notes.append(
            f"{summary.dropped_messages} older message(s) of this thread were left out "
            "to fit the model's context"
        )
    elif summary.older_omitted:
        notes.append("only the most recent messages of this long thread were used")
    if summary.input_truncated:
        notes.append("your message was too long for the model and was cut")
    if summary.unread_attachments:
        notes.append("not read: " + ", ".join(summary.unread_attachments))
    return notes
