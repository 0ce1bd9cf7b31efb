"""Turns shared files into what the model can read: inlined text, image parts, or a short note."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Final

from core.types import Attachment, ImagePart

# Images the Chat Completions API accepts as image_url parts.
IMAGE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Files that are text even though their media type does not start with text/.
TEXT_TYPES: Final = frozenset(
    {
        "application/json",
        "application/xml",
        "application/yaml",
        "application/x-yaml",
        "application/javascript",
        "application/x-sh",
        "application/sql",
        "application/toml",
    }
)
TEXT_SUFFIXES: Final = frozenset(
    [
        ".txt",
        ".md",
        ".markdown",
        ".rst",
        ".log",
        ".csv",
        ".tsv",
        ".json",
        ".jsonl",
        ".yaml",
        ".yml",
        ".toml",
        ".ini",
        ".cfg",
        ".conf",
        ".xml",
        ".html",
        ".css",
        ".js",
        ".ts",
        ".tsx",
        ".jsx",
        ".py",
        ".rb",
        ".go",
        ".rs",
        ".java",
        ".kt",
        ".c",
        ".h",
        ".cpp",
        ".hpp",
        ".cs",
        ".php",
        ".sh",
        ".bash",
        ".zsh",
        ".sql",
        ".swift",
        ".scala",
        ".lua",
        ".pl",
        ".r",
        ".tex",
        ".diff",
        ".patch",
        ".env",
        ".dockerfile",
    ]
)


@dataclass(frozen=True, slots=True)
class RenderedInput:
    """A user's message as the model will see it, plus what could not be read."""

    text: str
    images: tuple[ImagePart, ...]
    unread: tuple[str, ...]
    # The text with images named instead of attached: what the history keeps.
    stored_text: str


def render_input(
    text: str, attachments: tuple[Attachment, ...], *, text_limit: int, vision: bool
) -> RenderedInput:
    parts = [text] if text else []
    stored = [text] if text else []
    images: list[ImagePart] = []
    unread: list[str] = []
    for attachment in attachments:
        if attachment.data is not None and attachment.media_type in IMAGE_TYPES and vision:
            images.append(ImagePart(attachment.media_type, attachment.data))
            stored.append(f"[image: {attachment.filename}]")
            continue
        decoded = _as_text(attachment)
        if decoded is None:
            unread.append(attachment.filename)
            note = f"[attached file not read: {attachment.filename} ({_describe(attachment)})]"
            parts.append(note)
            stored.append(note)
            continue
        block = _inline(attachment.filename, decoded, text_limit)
        parts.append(block)
        stored.append(block)
    return RenderedInput("\n\n".join(parts), tuple(images), tuple(unread), "\n\n".join(stored))


def _as_text(attachment: Attachment) -> str | None:
    if attachment.data is None or not _looks_like_text(attachment):
        return None
    if b"\x00" in attachment.data[:8192]:
        return None  # a binary file with a misleading name
    try:
        return attachment.data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _looks_like_text(attachment: Attachment) -> bool:
    media_type = attachment.media_type.split(";")[0].strip().lower()
    suffix = PurePath(attachment.filename).suffix.lower()
    return media_type.startswith("text/") or media_type in TEXT_TYPES or suffix in TEXT_SUFFIXES


def _inline(filename: str, content: str, limit: int) -> str:
    note = ""
    if len(content) > limit:
        note = f"\n[file cut: showing the first {limit:,} of {len(content):,} characters]"
        content = content[:limit]
    # A fence longer than any backtick run inside, so the file cannot close it early.
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"[attached file: {filename}]\n{fence}\n{content}\n{fence}{note}"


def _describe(attachment: Attachment) -> str:
    size = attachment.size
    human = f"{size / 1_048_576:.1f} MB" if size >= 1_048_576 else f"{max(1, size // 1024)} KB"
    return f"{attachment.media_type or 'unknown type'}, {human}"
