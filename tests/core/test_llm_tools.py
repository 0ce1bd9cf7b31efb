"""Tool calls on the Chat Completions wire: OpenAICompatibleClient against the fake over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from core.errors import ModelRequestRejected, ProviderUnavailable, StreamInterrupted
from core.llm import (
    REPLY_ENDED,
    ModelEvent,
    ModelRequest,
    OpenAICompatibleClient,
    TextDelta,
    ToolCallsRequested,
)
from core.tools.calls import ToolCall, ToolSpec
from core.types import PromptMessage, Usage
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.openai_tools import FakeCall, asking_for_tools, calls_tools_then_reports

ASK = ModelRequest(
    model="fake-model",
    messages=(PromptMessage("user", "What are the limits?"),),
)
SEARCH_ARGS = {"query": "rate limits", "limit": 3, "note": 'per "workspace" \u2013 ünïcode'}
SEARCH = ToolSpec(
    name="docs.search",
    server="docs",
    tool="search",
    description="Search the team's docs.",
    parameters={"type": "object", "properties": {"query": {"type": "string"}}},
)


@pytest.fixture
async def client(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAICompatibleClient]:
    client = OpenAICompatibleClient(
        base_url=fake_openai.base_url,
        api_key="sk-test",
        timeout=2.0,
        max_retries=2,
        backoff_base=0.01,
    )
    yield client
    await client.close()


async def collect(client: OpenAICompatibleClient, request: ModelRequest = ASK) -> list[ModelEvent]:
    return [event async for event in client.stream(request)]


def requested(events: list[ModelEvent]) -> tuple[ToolCall, ...]:
    """The calls of the one ToolCallsRequested, which must come right before ReplyEnded."""
    asked = [event for event in events if isinstance(event, ToolCallsRequested)]
    assert len(asked) == 1
    ended = events.index(REPLY_ENDED)
    assert events[ended - 1] is asked[0]
    return asked[0].calls


def text_of(events: list[ModelEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


async def test_one_call_with_its_arguments_in_pieces(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    fake_openai.enqueue(
        asking_for_tools(
            ("docs__search", SEARCH_ARGS), tool_call_ids=["call_Search1"], argument_piece_chars=3
        )
    )
    events = await collect(client)
    calls = requested(events)
    assert calls == (ToolCall("call_Search1", "docs__search", json.dumps(SEARCH_ARGS)),)
    assert json.loads(calls[0].arguments) == SEARCH_ARGS
    assert text_of(events) == ""
    assert events[-2:] == [REPLY_ENDED, Usage(10, 2, 0)]


async def test_three_parallel_calls_interleaved_come_whole_in_index_order(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    asked: list[FakeCall] = [
        ("docs__search", {"query": "quota"}),
        ("github__issues", {"repo": "parley", "state": "open", "labels": ["bug", "tools"]}),
        ("clock__now", {}),
    ]
    fake_openai.enqueue(
        asking_for_tools(*asked, tool_call_ids=["c0", "c1", "c2"], argument_piece_chars=2)
    )
    calls = requested(await collect(client))
    assert [(call.id, call.name) for call in calls] == [
        ("c0", "docs__search"),
        ("c1", "github__issues"),
        ("c2", "clock__now"),
    ]
    assert [json.loads(call.arguments) for call in calls] == [args for _, args in asked]


async def test_text_before_the_calls_streams_as_text(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    fake_openai.enqueue(
        asking_for_tools(("docs__search", SEARCH_ARGS), text=("Let me ", "look that up."))
    )
    events = await collect(client)
    assert text_of(events) == "Let me look that up."
    calls = requested(events)
    last_text = max(i for i, event in enumerate(events) if isinstance(event, TextDelta))
    assert last_text < events.index(ToolCallsRequested(calls))
    assert calls[0].id.startswith("call_") and calls[0].name == "docs__search"


async def test_a_plain_reply_asks_for_no_tools(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    events = await collect(client)
    assert text_of(events) == "Hello world"
    assert not [event for event in events if isinstance(event, ToolCallsRequested)]


async def test_calls_finished_with_stop_are_still_calls(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    fake_openai.enqueue(asking_for_tools(("clock__now", "{}"), finish_reason="stop"))
    assert requested(await collect(client))[0].arguments == "{}"


async def test_calls_in_a_non_streamed_completion(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    fake_openai.enqueue(
        asking_for_tools(
            ("docs__search", SEARCH_ARGS),
            ("clock__now", {}),
            text=("Checking.",),
            tool_call_ids=["a", ""],
            ignore_stream=True,
        )
    )
    events = await collect(client)
    assert text_of(events) == "Checking."
    assert requested(events) == (
        ToolCall("a", "docs__search", json.dumps(SEARCH_ARGS)),
        ToolCall("call_1", "clock__now", "{}"),
    )


async def test_calls_without_ids_get_stable_ones_by_index(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    fake_openai.enqueue(
        asking_for_tools(("docs__search", {"q": 1}), ("clock__now", {}), tool_call_ids=["", ""])
    )
    calls = requested(await collect(client))
    assert [call.id for call in calls] == ["call_0", "call_1"]


async def test_a_call_without_a_name_is_a_malformed_reply(fake_openai: FakeOpenAI) -> None:
    fake_openai.default = asking_for_tools(("", {"q": "x"}))
    client = OpenAICompatibleClient(
        base_url=fake_openai.base_url,
        api_key="sk-test",
        timeout=2.0,
        max_retries=1,
        backoff_base=0.01,
    )
    try:
        with pytest.raises(ProviderUnavailable, match="without a function name"):
            await collect(client)
    finally:
        await client.close()
    assert len(fake_openai.requests) == 2  # nothing was shown, so it was tried again


async def test_a_nameless_call_then_a_good_answer_on_the_retry(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    fake_openai.enqueue(asking_for_tools(("", {"q": "x"})))
    events = await collect(client)
    assert text_of(events) == "Hello world" and events.count(REPLY_ENDED) == 1
    assert len(fake_openai.requests) == 2


async def test_a_stream_cut_among_the_call_pieces_is_run_again(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    call = ("docs__search", SEARCH_ARGS)
    fake_openai.enqueue(
        asking_for_tools(call, tool_call_ids=["first"], cut_after_tool_pieces=4),
        asking_for_tools(call, tool_call_ids=["second"]),
    )
    events = await collect(client)
    assert requested(events) == (ToolCall("second", "docs__search", json.dumps(SEARCH_ARGS)),)
    assert len(fake_openai.requests) == 2


async def test_a_stream_cut_among_the_call_pieces_after_text_is_interrupted(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    fake_openai.enqueue(
        asking_for_tools(("docs__search", {}), text=("Searching",), cut_after_tool_pieces=1)
    )
    seen: list[ModelEvent] = []
    with pytest.raises(StreamInterrupted):
        async for event in client.stream(ASK):
            seen.append(event)
    assert text_of(seen) == "Searching"
    assert not [event for event in seen if isinstance(event, ToolCallsRequested)]
    assert len(fake_openai.requests) == 1


async def test_pieces_without_index_and_arguments_as_an_object(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    """Some servers send whole calls with no index, their arguments as JSON objects."""
    pieces = [
        {"id": "g1", "type": "function", "function": {"name": "docs__search", "arguments": {}}},
        {"function": {"arguments": ""}},
        {"id": "g2", "type": "function", "function": {"name": "clock__now", "arguments": {"a": 1}}},
    ]
    chunks = [{"choices": [{"index": 0, "delta": {"tool_calls": [piece]}}]} for piece in pieces]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    fake_openai.enqueue(Script(events=[json.dumps(chunk) for chunk in chunks]))
    assert requested(await collect(client)) == (
        ToolCall("g1", "docs__search", "{}"),
        ToolCall("g2", "clock__now", '{"a": 1}'),
    )


async def test_a_tool_call_list_that_is_no_list_is_malformed(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    chunk = {
        "choices": [{"index": 0, "delta": {"tool_calls": {"index": 0}}, "finish_reason": None}]
    }
    fake_openai.default = Script(events=[json.dumps(chunk)])
    with pytest.raises(ProviderUnavailable, match="tool_calls is not a list"):
        await collect(client)


async def test_a_request_with_tools_and_tool_messages_as_the_fake_received_it(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    bare = ToolSpec(name="clock.now", server="clock", tool="now", description="The time.")
    calls = (ToolCall("c1", "docs__search", '{"query": "quota"}'), ToolCall("c2", "clock__now", ""))
    messages = (
        PromptMessage("user", "What is our quota, and the time?"),
        PromptMessage("assistant", "", tool_calls=calls),
        PromptMessage("tool", "Quota: 100 a day", tool_call_id="c1"),
        PromptMessage("tool", "10:30 UTC", tool_call_id="c2"),
    )
    await collect(client, ModelRequest("fake-model", messages, tools=(SEARCH, bare)))
    body = fake_openai.requests[0]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "docs__search",
                "description": "Search the team's docs.",
                "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
            },
        },
        {
            "type": "function",
            "function": {
                "name": "clock__now",
                "description": "The time.",
                "parameters": {"type": "object", "properties": {}},
            },
        },
    ]
    messages_sent = body["messages"]
    assert isinstance(messages_sent, list)
    assert messages_sent[1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "docs__search", "arguments": '{"query": "quota"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "clock__now", "arguments": ""},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "Quota: 100 a day"},
        {"role": "tool", "tool_call_id": "c2", "content": "10:30 UTC"},
    ]


async def test_no_tools_key_without_tools(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    await collect(client)
    assert "tools" not in fake_openai.requests[0]
    assert fake_openai.requests[0]["messages"] == [
        {"role": "user", "content": "What are the limits?"}
    ]


async def test_a_tool_call_left_unanswered_is_refused_as_openai_does(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    messages = (
        PromptMessage("user", "Search"),
        PromptMessage("assistant", "", tool_calls=(ToolCall("c1", "docs__search", "{}"),)),
        PromptMessage("user", "Well?"),
    )
    with pytest.raises(ModelRequestRejected, match="did not have response messages: c1"):
        await collect(client, ModelRequest("fake-model", messages, tools=(SEARCH,)))


async def test_the_tool_loop_script_asks_then_reports_what_it_was_given(
    fake_openai: FakeOpenAI, client: OpenAICompatibleClient
) -> None:
    fake_openai.default = calls_tools_then_reports(
        ("docs__search", {"query": "quota"}), ("clock__now", {}), text_first=("One moment.",)
    )
    first = await collect(client, ModelRequest("fake-model", ASK.messages, tools=(SEARCH,)))
    assert text_of(first) == "One moment."
    calls = requested(first)
    answered = (
        *ASK.messages,
        PromptMessage("assistant", "One moment.", tool_calls=calls),
        PromptMessage("tool", "Quota: 100 a day", tool_call_id=calls[0].id),
        PromptMessage("tool", "10:30 UTC", tool_call_id=calls[1].id),
    )
    second = await collect(client, ModelRequest("fake-model", answered, tools=(SEARCH,)))
    assert text_of(second) == "Found: Quota: 100 a day | 10:30 UTC"
    assert not [event for event in second if isinstance(event, ToolCallsRequested)]
