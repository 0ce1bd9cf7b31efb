"""Reading Chat Completions chunks from Server-Sent Events lines without the SDK's models."""

from __future__ import annotations

import json

import pytest

from core.chunks import (
    DONE,
    Chunk,
    EventReader,
    LineSplitter,
    MalformedChunk,
    parse_body,
    parse_chunk,
)
from core.errors import ReplyCut
from core.types import Usage


def events(lines: list[str]) -> list[str]:
    reader = EventReader()
    found = [data for line in lines if (data := reader.feed(line)) is not None]
    last = reader.end()
    return [*found, last] if last is not None else found


def chunk(text: str | None = None, finish: str | None = None, **extra: object) -> str:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": finish}
    return json.dumps({"object": "chat.completion.chunk", "choices": [choice], **extra})


def test_events_end_at_blank_lines_and_skip_comments_and_other_fields() -> None:
    lines = [": keep-alive", "event: message", "data: one", "", "data:two", "data: lines", ""]
    assert events(lines) == ["one", "two\nlines"]


def test_a_last_event_without_a_blank_line_is_not_lost() -> None:
    assert events(["data: a", "", f"data: {DONE}"]) == ["a", DONE]


def test_text_and_finish_come_from_the_choices() -> None:
    assert parse_chunk(chunk("Hel")).text == "Hel"
    assert not parse_chunk(chunk("Hel")).finished
    assert parse_chunk(chunk(None, "stop")).finished
    assert parse_chunk(chunk(None, "stop")).text == ""


def test_only_the_choice_less_usage_chunk_closes_the_reply() -> None:
    usage = {"prompt_tokens": 12, "completion_tokens": 3, "prompt_tokens_details": None}
    # Some servers repeat usage on every chunk: that proves nothing about the end.
    repeated = parse_chunk(chunk("x", usage=usage))
    assert repeated.usage == Usage(12, 3, 0) and not repeated.finished
    cached = {**usage, "prompt_tokens_details": {"cached_tokens": 8}}
    last = parse_chunk(json.dumps({"choices": [], "usage": cached}))
    assert last.usage == Usage(12, 3, 8) and last.finished


def test_an_error_inside_the_stream_is_reported() -> None:
    found = parse_chunk(json.dumps({"error": {"message": "overloaded", "type": "server_error"}}))
    assert found.error == {"message": "overloaded", "type": "server_error"}
    assert parse_chunk(json.dumps({"error": "plain text"})).error == {"message": "plain text"}


@pytest.mark.parametrize(
    "data",
    [
        "{not json",
        "[1, 2]",
        '"text"',
        "[" * 100_000,  # deeper than the JSON parser's stack
        '{"choices": {"index": 0}}',
        '{"choices": [{"index": 0, "delta": "x"}]}',
        '{"choices": [7]}',
        '{"choices": [{"delta": {"content": ["x"]}}]}',
    ],
)
def test_a_line_that_is_no_chunk_is_refused(data: str) -> None:
    with pytest.raises(MalformedChunk):
        parse_chunk(data)


@pytest.mark.parametrize(
    ("usage", "believed"),
    [
        ({"prompt_tokens": 10, "completion_tokens": 2}, Usage(10, 2, 0)),
        ({"prompt_tokens": 10.0, "completion_tokens": 2}, Usage(10, 2, 0)),
        ({"prompt_tokens": 10**23, "completion_tokens": 2}, None),
        ({"prompt_tokens": "10", "completion_tokens": 2}, None),
        ({"prompt_tokens": True, "completion_tokens": 2}, None),
        ({"prompt_tokens": -1, "completion_tokens": 2}, None),
        ({"prompt_tokens": float("nan"), "completion_tokens": 2}, None),
        ({"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": 5}}, None),
        ("lots", None),
    ],
)
def test_usage_is_believed_only_when_it_can_be_true(usage: object, believed: Usage | None) -> None:
    chunk = parse_chunk(json.dumps({"choices": [], "usage": usage}))
    assert chunk.usage == believed
    assert bool(chunk.bad_usage) == (believed is None)


def test_a_page_that_is_no_stream_is_described_in_its_own_words() -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    with pytest.raises(MalformedChunk, match="HTML page: '502 Bad Gateway nginx'"):
        parse_body(page)
    assert parse_body('{"error": "down"}').error == {"message": "down"}
    completion = {"choices": [{"message": {"content": "Hi"}}], "usage": {"prompt_tokens": 3}}
    assert parse_body(json.dumps(completion)) == Chunk("Hi", True, Usage(3, 0, 0), None)


def test_stray_lines_are_kept_within_a_bound() -> None:
    reader = EventReader()
    reader.feed("<html>")
    reader.feed("x" * 3_000_000)
    assert reader.stray.startswith("<html>\nxxx") and len(reader.stray) <= 1_000_001


def _lines(*pieces: str, limit: int = 100) -> list[str]:
    splitter = LineSplitter(limit)
    lines = [line for piece in pieces for line in splitter.feed(piece)]
    return lines + splitter.end()


def test_sse_lines_split_on_every_sse_line_end_even_across_pieces() -> None:
    assert _lines("data: a\r", "\n\r\ndata: b\rdata: c\n", "\n", "data: d") == [
        "data: a",
        "",
        "data: b",
        "data: c",
        "",
        "data: d",
    ]
    # JSON may carry a raw U+2028; it is no SSE line end.
    assert _lines('data: "x\u2028y"\n') == ['data: "x\u2028y"']


def test_a_bare_cr_at_a_pieces_end_ends_its_line_at_once() -> None:
    # A server ending events with bare CRs and then pausing: no later byte is needed.
    splitter = LineSplitter(100)
    assert splitter.feed("data: a\r\r") == ["data: a", ""]
    assert splitter.feed("\ndata: b\r") == ["data: b"]  # that "\n" paired the "\r"
    assert splitter.feed("\r") == [""]
    assert splitter.feed("\n") == []
    assert splitter.feed("\n") == [""]


def test_sse_lines_refuse_a_line_past_the_limit_before_it_ends() -> None:
    endless = ["x" * 30] * 10
    with pytest.raises(ReplyCut, match="over 100 characters"):
        _lines("data: ok\n", *endless)
    with pytest.raises(ReplyCut):
        _lines("x" * 90 + "\n" + "y" * 101)
    assert _lines("x" * 100 + "\n") == ["x" * 100]
