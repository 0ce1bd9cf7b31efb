"""render_input: text files are inlined in a safe fence, images attached, the rest noted."""

from __future__ import annotations

import re

import pytest

from core.attachments import render_input
from core.types import Attachment, ImagePart

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
LIMIT = 20_000


def text_file(filename: str, media_type: str, content: str) -> Attachment:
    data = content.encode("utf-8")
    return Attachment(filename, media_type, len(data), data)


def fences(block: str) -> list[str]:
    """The backtick runs that stand alone on a line: the fences Markdown would see."""
    return [line for line in block.split("\n") if re.fullmatch(r"`{3,}", line)]


@pytest.mark.parametrize(
    ("filename", "media_type"),
    [
        ("script.py", "application/octet-stream"),  # known by its suffix alone
        ("script.py", "text/x-python"),
        ("notes", "text/plain"),
        ("notes", "text/plain; charset=utf-8"),
        ("payload", "application/json"),
        ("payload.json", "application/json"),
    ],
)
def test_a_text_file_is_inlined_under_its_filename(filename: str, media_type: str) -> None:
    content = 'def greet(name):\n    return f"hi {name}"  # ünïcode ✓\n'
    rendered = render_input(
        "what does this do?",
        (text_file(filename, media_type, content),),
        text_limit=LIMIT,
        vision=False,
    )

    expected = f"what does this do?\n\n[attached file: {filename}]\n```\n{content}\n```"
    assert rendered.text == expected
    assert rendered.stored_text == expected
    assert rendered.images == ()
    assert rendered.unread == ()


def test_content_over_the_limit_is_cut_with_a_note() -> None:
    content = "abcdefghij" * 5  # 50 characters
    rendered = render_input(
        "", (text_file("log.txt", "text/plain", content),), text_limit=20, vision=False
    )

    assert rendered.text == (
        "[attached file: log.txt]\n```\nabcdefghijabcdefghij\n```\n"
        "[file cut: showing the first 20 of 50 characters]"
    )
    assert rendered.stored_text == rendered.text
    assert rendered.unread == ()


def test_content_at_the_limit_is_not_cut() -> None:
    content = "x" * 20
    rendered = render_input(
        "", (text_file("log.txt", "text/plain", content),), text_limit=20, vision=False
    )
    assert rendered.text == f"[attached file: log.txt]\n```\n{content}\n```"
    assert "file cut" not in rendered.text


def test_the_limit_counts_characters_not_bytes() -> None:
    content = "ü" * 30  # 60 bytes
    rendered = render_input(
        "", (text_file("a.txt", "text/plain", content),), text_limit=25, vision=False
    )
    assert f"\n{'ü' * 25}\n" in rendered.text
    assert "ü" * 26 not in rendered.text
    assert rendered.text.endswith("[file cut: showing the first 25 of 30 characters]")


@pytest.mark.parametrize(
    ("content", "fence"),
    [
        ("Use it like this:\n```python\nprint(1)\n```\nDone.", "````"),
        ("inline `code` and ``double``", "```"),
        ("a five-tick run: ````` and a ``` fence", "``````"),
        ("ends in a fence\n```", "````"),
    ],
)
def test_a_fence_in_the_file_cannot_close_the_block(content: str, fence: str) -> None:
    rendered = render_input(
        "", (text_file("README.md", "text/markdown", content),), text_limit=LIMIT, vision=False
    )

    assert rendered.text == f"[attached file: README.md]\n{fence}\n{content}\n{fence}"
    # Only the opening and closing lines are fences as long as ours; whatever the file
    # holds is shorter, so Markdown keeps it inside the block.
    assert [line for line in fences(rendered.text) if len(line) >= len(fence)] == [fence, fence]


def test_the_fence_is_chosen_after_the_cut() -> None:
    # The long backtick run lies beyond the limit, so the kept part needs only three.
    content = "short part" + "x" * 100 + "``````"
    rendered = render_input(
        "", (text_file("a.md", "text/markdown", content),), text_limit=10, vision=False
    )
    assert rendered.text.startswith("[attached file: a.md]\n```\nshort part\n```\n")


@pytest.mark.parametrize(
    "data",
    [
        "café".encode("latin-1"),  # not UTF-8
        b"\xff\xfeh\x00i\x00",  # UTF-16 with a BOM
        b"PK\x00\x00 looks like text otherwise",  # a NUL byte
        b"plain\x00text",
    ],
)
def test_undecodable_or_binary_text_is_noted_as_unread(data: bytes) -> None:
    attachment = Attachment("notes.txt", "text/plain", 2048, data)
    rendered = render_input("see file", (attachment,), text_limit=LIMIT, vision=False)

    note = "[attached file not read: notes.txt (text/plain, 2 KB)]"
    assert rendered.text == f"see file\n\n{note}"
    assert rendered.stored_text == rendered.text
    assert rendered.unread == ("notes.txt",)
    assert rendered.images == ()


def test_a_file_that_was_not_downloaded_is_noted_by_name() -> None:
    attachment = Attachment("huge.log", "text/plain", 5_000_000, None)
    rendered = render_input("", (attachment,), text_limit=LIMIT, vision=True)

    assert rendered.text == "[attached file not read: huge.log (text/plain, 4.8 MB)]"
    assert rendered.unread == ("huge.log",)


def test_an_image_is_attached_when_the_persona_has_vision() -> None:
    image = Attachment("screenshot.png", "image/png", len(PNG), PNG)
    rendered = render_input("what is this?", (image,), text_limit=LIMIT, vision=True)

    assert rendered.images == (ImagePart("image/png", PNG),)
    assert rendered.text == "what is this?"
    assert rendered.stored_text == "what is this?\n\n[image: screenshot.png]"
    assert "PNG" not in rendered.stored_text
    assert rendered.unread == ()


def test_an_image_is_unread_when_the_persona_has_no_vision() -> None:
    image = Attachment("screenshot.png", "image/png", 3000, PNG)
    rendered = render_input("what is this?", (image,), text_limit=LIMIT, vision=False)

    note = "[attached file not read: screenshot.png (image/png, 2 KB)]"
    assert rendered.images == ()
    assert rendered.text == f"what is this?\n\n{note}"
    assert rendered.stored_text == rendered.text
    assert rendered.unread == ("screenshot.png",)


def test_an_image_that_was_not_downloaded_is_unread_even_with_vision() -> None:
    image = Attachment("photo.jpg", "image/jpeg", 2_097_152, None)
    rendered = render_input("", (image,), text_limit=LIMIT, vision=True)

    assert rendered.images == ()
    assert rendered.text == "[attached file not read: photo.jpg (image/jpeg, 2.0 MB)]"
    assert rendered.unread == ("photo.jpg",)


@pytest.mark.parametrize(
    ("size", "human"),
    [
        (10, "1 KB"),
        (1024, "1 KB"),
        (2047, "1 KB"),
        (500_000, "488 KB"),
        (1_048_576, "1.0 MB"),
        (3_500_000, "3.3 MB"),
    ],
)
def test_unknown_binary_is_unread_with_a_human_size(size: int, human: str) -> None:
    archive = Attachment("build.zip", "application/zip", size, b"PK\x03\x04" + b"\x01" * 16)
    rendered = render_input("", (archive,), text_limit=LIMIT, vision=True)

    assert rendered.text == f"[attached file not read: build.zip (application/zip, {human})]"
    assert rendered.unread == ("build.zip",)
    assert rendered.images == ()


def test_a_missing_media_type_is_described_as_unknown() -> None:
    blob = Attachment("blob", "", 4096, b"\x01\x02")
    rendered = render_input("", (blob,), text_limit=LIMIT, vision=False)
    assert rendered.text == "[attached file not read: blob (unknown type, 4 KB)]"


def test_several_attachments_keep_their_order() -> None:
    attachments = (
        text_file("a.txt", "text/plain", "first"),
        Attachment("pic.webp", "image/webp", 4, b"RIFF"),
        Attachment("b.zip", "application/zip", 4096, b"PK"),
        text_file("c.py", "text/x-python", "third = 3"),
    )
    rendered = render_input("hello", attachments, text_limit=LIMIT, vision=True)

    a_block = "[attached file: a.txt]\n```\nfirst\n```"
    zip_note = "[attached file not read: b.zip (application/zip, 4 KB)]"
    c_block = "[attached file: c.py]\n```\nthird = 3\n```"
    assert rendered.text == "\n\n".join(["hello", a_block, zip_note, c_block])
    assert rendered.stored_text == "\n\n".join(
        ["hello", a_block, "[image: pic.webp]", zip_note, c_block]
    )
    assert rendered.images == (ImagePart("image/webp", b"RIFF"),)
    assert rendered.unread == ("b.zip",)


def test_text_alone_passes_through() -> None:
    rendered = render_input("just words", (), text_limit=LIMIT, vision=True)
    assert rendered.text == rendered.stored_text == "just words"
    assert rendered.images == ()
    assert rendered.unread == ()
