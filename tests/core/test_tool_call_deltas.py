"""ToolCallAssembler on the piece shapes servers send, and the fake's OpenAI-like refusals."""

from __future__ import annotations

import pytest

from core.chunks import MalformedChunk, parse_body
from core.errors import ReplyCut
from core.tool_call_deltas import MOST_CALLS, ToolCallAssembler
from core.tools.calls import ToolCall
from tests.fakes.openai_tools import tool_request_problem


def piece(
    index: int | None, call_id: str = "", name: str = "", args: str = ""
) -> dict[str, object]:
    function: dict[str, object] = {"arguments": args}
    if name:
        function["name"] = name
    built: dict[str, object] = {"function": function}
    if index is not None:
        built["index"] = index
    if call_id:
        built["id"] = call_id
    return built


def test_a_repeated_name_and_id_add_nothing() -> None:
    calls = ToolCallAssembler()
    calls.add([piece(0, "a", "docs__search", '{"q"')])
    calls.add([piece(0, "a", "docs__search", ': "x"}')])
    assert calls.calls() == (ToolCall("a", "docs__search", '{"q": "x"}'),)


def test_every_call_at_index_zero_with_its_own_id_stays_apart() -> None:
    """What some proxies send for parallel calls: the index never moves, the id does."""
    calls = ToolCallAssembler()
    calls.add([piece(0, "a", "one", '{"n": ')])
    calls.add([piece(0, args="1}")])
    calls.add([piece(0, "b", "two", '{"n": ')])
    calls.add([piece(0, args="2}")])
    assert calls.calls() == (ToolCall("a", "one", '{"n": 1}'), ToolCall("b", "two", '{"n": 2}'))


def test_pieces_of_one_chunk_for_several_calls() -> None:
    calls = ToolCallAssembler()
    calls.add([piece(1, "b", "two", "{}"), piece(0, "a", "one", "{}")])
    assert [call.id for call in calls.calls()] == ["a", "b"]


@pytest.mark.parametrize(
    ("pieces", "complaint"),
    [
        ({"index": 0}, "tool_calls is not a list"),
        (["call"], "a tool call is not an object"),
        ([{"index": "0", "function": {"name": "x"}}], "index is not one"),
        ([{"index": -1, "function": {"name": "x"}}], "index is not one"),
        ([{"index": 0, "function": "x"}], "function is not an object"),
        ([{"index": 0, "function": {"name": 7}}], "function.name is not text"),
        ([{"index": 0, "id": 7, "function": {"name": "x"}}], "id is not text"),
    ],
)
def test_pieces_that_are_none(pieces: object, complaint: str) -> None:
    with pytest.raises(MalformedChunk, match=complaint):
        ToolCallAssembler().add(pieces)


def test_more_calls_than_any_reply_makes_are_cut() -> None:
    calls = ToolCallAssembler()
    calls.add([piece(index, f"c{index}", "f") for index in range(MOST_CALLS)])
    with pytest.raises(ReplyCut):
        calls.add([piece(MOST_CALLS, "last", "f")])


def test_a_completion_whose_tool_calls_are_no_list_is_malformed() -> None:
    body = '{"choices": [{"message": {"content": null, "tool_calls": "x"}}]}'
    with pytest.raises(MalformedChunk, match="tool_calls is not a list"):
        parse_body(body)


def test_the_fake_refuses_what_openai_refuses() -> None:
    def problem(body: dict[str, object]) -> str:
        found = tool_request_problem(body)
        assert found is not None
        return found[0]

    asked = {"role": "assistant", "content": "", "tool_calls": [{"id": "c1"}, {"id": "c2"}]}
    answer = {"role": "tool", "tool_call_id": "c1", "content": "r"}
    assert "minimum length 1" in problem({"tools": [], "messages": []})
    bad_name = {"type": "function", "function": {"name": "docs.search"}}
    assert "does not match pattern" in problem({"tools": [bad_name]})
    assert "preceeding message with 'tool_calls'" in problem({"messages": [answer]})
    assert "c2" in problem({"messages": [asked, answer, {"role": "user", "content": "?"}]})
    stray = {"role": "tool", "tool_call_id": "c9", "content": "r"}
    assert "'c9' not found" in problem({"messages": [asked, stray]})
    both = {**answer, "tool_call_id": "c2"}
    assert tool_request_problem({"messages": [asked, answer, both]}) is None
