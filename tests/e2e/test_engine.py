"""The engine end to end: real openai client, real SQLite, fake OpenAI server on loopback."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from bots.app import Runtime
from core.errors import ContextTooLong, ProviderUnavailable, StreamInterrupted
from core.types import Author, Command, ConversationKey, IncomingMessage
from tests.e2e.conftest import TEST_KEY
from tests.fakes.openai_server import FakeOpenAI, Script, echo_last_user
from tests.fakes.sinks import RecordingSink
from tests.fakes.waiting import wait_until

THREAD = ConversationKey("console", "local", "parley", "t1")
ALICE = Author("U1", "Alice")
BOB = Author("U2", "Bob")


def said(
    text: str,
    *,
    key: ConversationKey = THREAD,
    author: Author = ALICE,
    bot: str = "parley",
    message_id: str = "m1",
) -> IncomingMessage:
    return IncomingMessage(
        bot=bot,
        key=key,
        author=author,
        text=text,
        message_id=message_id,
        workspace_name="Acme",
        channel_name="general",
    )


def sent_messages(fake: FakeOpenAI, index: int = -1) -> list[dict[str, Any]]:
    messages = fake.requests[index]["messages"]
    assert isinstance(messages, list)
    return messages


def last_model(fake: FakeOpenAI) -> object:
    return fake.requests[-1]["model"]


async def persona_command(runtime: Runtime, command: Command, *, admin: bool = True) -> str:
    message = replace(said("", message_id=f"c{id(command)}"), command=command, admin=admin)
    sink = RecordingSink()
    await runtime.engine.handle(message, sink)
    (answer,) = sink.said
    return answer


async def turn(runtime: Runtime, message: IncomingMessage) -> RecordingSink:
    sink = RecordingSink()
    await runtime.engine.handle(message, sink)
    assert sink.endings == 1, sink.events
    return sink


async def test_a_reply_streams_into_the_sink_and_is_remembered(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    usage_sent = asyncio.Event()
    script = Script(chunks=("Hel", "lo ", "Alice"), usage=(42, 3, 8), release_usage=usage_sent)
    fake_openai.enqueue(script)
    sink = RecordingSink()
    handling = asyncio.create_task(runtime.engine.handle(said("hi there"), sink))
    await sink.ended.wait()
    usage_sent.set()
    outcome = await handling

    # Chunks that arrive in one network read are appended together.
    assert sink.events[0] == "start" and sink.events[-1] == "finish"
    assert set(sink.events[1:-1]) == {"append"}
    assert sink.text == "Hello Alice"
    # The reply was finished when the model ended it, before the usage chunk came; the
    # stored outcome has the figures.
    assert sink.summary is not None and sink.summary.usage is None
    assert outcome.summary is not None and outcome.summary.usage is not None
    assert (outcome.summary.usage.prompt_tokens, outcome.summary.usage.cached_tokens) == (42, 8)
    history = await runtime.store.recent_messages(THREAD, 10)
    assert [(m.role, m.content, m.status) for m in history.messages] == [
        ("user", "hi there", "complete"),
        ("assistant", "Hello Alice", "complete"),
    ]
    assert fake_openai.authorizations[-1] == f"Bearer {TEST_KEY}"


async def test_the_request_carries_the_persona_and_rendered_prompt(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    await turn(runtime, said("hi"))
    body = fake_openai.requests[-1]
    assert (body["model"], body["temperature"], body["top_p"], body["max_tokens"]) == (
        "gpt-4o-mini",
        0.3,
        0.9,
        256,
    )
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    system = sent_messages(fake_openai)[0]
    assert system == {"role": "system", "content": "You are parley in Acme/general with Alice."}


async def test_the_second_turn_sees_the_first_and_who_said_what(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = echo_last_user
    await turn(runtime, said("my name is Alice"))
    await turn(runtime, said("and I am Bob", author=BOB, message_id="m2"))
    contents = [(m["role"], m["content"]) for m in sent_messages(fake_openai)[1:]]
    assert contents == [
        ("user", "[Alice] my name is Alice"),
        ("assistant", "echo: [Alice] my name is Alice"),
        ("user", "[Bob] and I am Bob"),
    ]


async def test_a_channel_override_switches_persona_with_its_examples(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    key = ConversationKey("slack", "T0ACME", "C0PIRATE", "1700000000.000100")
    await turn(runtime, said("hello", key=key, bot="team"))
    body = fake_openai.requests[-1]
    assert body["model"] == "gpt-4o"
    assert [m["content"] for m in sent_messages(fake_openai)] == [
        "Talk like a pirate.",
        "Hello",
        "Ahoy!",
        "[Alice] hello",
    ]


async def test_turns_in_one_conversation_run_in_order(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Script(chunks=("first answer",), delay_before_first_chunk=0.2))
    fake_openai.default = echo_last_user
    await asyncio.gather(turn(runtime, said("one")), turn(runtime, said("two", message_id="m2")))
    second = [m["content"] for m in sent_messages(fake_openai)]
    assert second[-3:] == ["[Alice] one", "first answer", "[Alice] two"]


async def test_different_conversations_run_in_parallel(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    # Every answer is held until all four questions have reached the model: serialized
    # turns would never get there (the guard would fail the test), parallel ones do.
    release = asyncio.Event()
    fake_openai.default = Script(chunks=("ok",), release=release)
    keys = [ConversationKey("console", "local", "parley", f"t{n}") for n in range(4)]
    turns = asyncio.gather(*(turn(runtime, said("hi", key=key)) for key in keys))
    try:
        await wait_until(lambda: len(fake_openai.requests) == 4, timeout=30)
    finally:
        release.set()
    sinks = await turns
    assert [sink.text for sink in sinks] == ["ok"] * 4


async def test_rate_limit_is_retried_after_the_servers_delay(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Script(status=429, headers={"Retry-After": "0.1"}), Script())
    sink = await turn(runtime, said("hi"))
    assert sink.events[-1] == "finish" and sink.text == "Hello world"
    assert len(fake_openai.requests) == 2


async def test_a_stream_cut_after_text_is_kept_as_partial_and_not_rerun(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Script(chunks=("one ", "two ", "three"), cut_after=2))
    sink = await turn(runtime, said("count"))
    assert sink.text == "one two " and isinstance(sink.error, StreamInterrupted)
    assert len(fake_openai.requests) == 1
    stored = (await runtime.store.recent_messages(THREAD, 10)).messages
    assert [(m.role, m.status, m.content) for m in stored] == [
        ("user", "complete", "count"),
        ("assistant", "partial", "one two "),
    ]
    # The next turn works, and the model is told the last reply was cut off.
    sink = await turn(runtime, said("again", message_id="m2"))
    assert sink.events[-1] == "finish"
    replayed = sent_messages(fake_openai)[-2]["content"]
    assert replayed.startswith("one two ") and "cut off" in replayed


async def test_a_provider_outage_gives_one_short_failure_and_keeps_the_question(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = Script(status=503, headers={"Retry-After": "0.05"})
    sink = await turn(runtime, said("are you there?"))
    assert sink.events == ["start", "fail"]
    assert isinstance(sink.error, ProviderUnavailable)
    assert len(fake_openai.requests) == 3  # the first try and two retries
    stored = (await runtime.store.recent_messages(THREAD, 10)).messages
    assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "failed")]
    fake_openai.default = Script()
    sink = await turn(runtime, said("now?", message_id="m2"))
    assert sink.events[-1] == "finish"
    # The failed turn leaves no empty assistant message in the next request.
    assert [m["role"] for m in sent_messages(fake_openai)] == ["system", "user", "user"]


async def test_a_slow_first_token_times_out_into_one_failure(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default = Script(delay_before_first_chunk=1.5)
    sink = await turn(runtime, said("slow?"))
    assert sink.events == ["start", "fail"]
    assert "too long" in (sink.error.user_message if sink.error else "")
    # What bounds the wait, counted rather than clocked: the first try and two retries.
    assert len(fake_openai.requests) == 3


async def test_context_length_errors_tell_the_user_what_to_do(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Script(status=400, error_code="context_length_exceeded"))
    sink = await turn(runtime, said("long"))
    assert isinstance(sink.error, ContextTooLong)
    assert "reset" in sink.error.user_message
    assert len(fake_openai.requests) == 1


async def test_history_beyond_the_budget_is_dropped_and_reported(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    key = ConversationKey("slack", "T0ACME", "C0PIRATE", "1700000000.000200")
    fake_openai.default = Script(chunks=("Arr, " * 20,))
    for n in range(6):
        sink = await turn(runtime, said(f"tell me tale {n} " * 5, key=key, bot="team"))
    assert sink.summary is not None and sink.summary.dropped_messages > 0
    sent = sent_messages(fake_openai)
    assert sent[0]["content"] == "Talk like a pirate."
    assert sent[-1]["content"].startswith("[Alice] tell me tale 5")
    assert len(sent) < 3 + 2 * 6


async def test_reset_forgets_the_thread(runtime: Runtime, fake_openai: FakeOpenAI) -> None:
    await turn(runtime, said("remember this"))
    sink = RecordingSink()
    outcome = await runtime.engine.handle(said("reset", message_id="r1"), sink)
    assert outcome.handled_as == "command"
    assert sink.said == ["Done: I've forgotten this thread (2 messages)."]
    await turn(runtime, said("what did I say?", message_id="m2"))
    assert [m["role"] for m in sent_messages(fake_openai)] == ["system", "user"]


async def test_a_missing_api_key_fails_the_turn_but_keeps_the_message(
    runtime: Runtime, fake_openai: FakeOpenAI, monkeypatch: Any
) -> None:
    monkeypatch.delenv("PARLEY_TEST_KEY")
    assert runtime.config.reload()
    sink = await turn(runtime, said("hello?"))
    assert sink.events == ["start", "fail"]
    assert "PARLEY_TEST_KEY" in str(sink.error)
    assert fake_openai.requests == []
    stored = (await runtime.store.recent_messages(THREAD, 10)).messages
    assert stored[0].content == "hello?"


async def test_a_reload_changes_the_next_turns_prompt(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    path = runtime.config.current.source
    path.write_text(path.read_text().replace("Talk like a pirate.", "Talk like a parrot."))
    assert runtime.config.reload()
    key = ConversationKey("slack", "T0ACME", "C0PIRATE", "1700000000.000300")
    await turn(runtime, said("hi", key=key, bot="team"))
    assert sent_messages(fake_openai)[0]["content"] == "Talk like a parrot."


async def test_a_failing_sink_ends_the_turn_without_killing_the_engine(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    class BrokenSink(RecordingSink):
        async def append(self, text: str) -> None:
            raise ConnectionError("platform unreachable")

    sink = BrokenSink()
    outcome = await runtime.engine.handle(said("hi"), sink)
    # The model's text arrived but never reached the user: kept for the record, as failed,
    # so no later turn replays it as something the user read.
    assert outcome.status == "failed" and sink.events == ["start", "fail"]
    sink2 = await turn(runtime, said("still there?", message_id="m2"))
    assert sink2.events[-1] == "finish"


async def test_a_persona_chosen_in_chat_answers_until_cleared(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    await persona_command(runtime, Command("persona", "pirate", whole_channel=True))
    await turn(runtime, said("hello"))
    assert last_model(fake_openai) == "gpt-4o"
    shown = await persona_command(runtime, Command("persona"), admin=False)
    assert shown == "Here I'm **pirate**, answering with `gpt-4o`."
    await runtime.store.choose_persona("parley", THREAD, None, whole_channel=True, chosen_by="U1")
    await turn(runtime, said("and now?", message_id="m2"))
    assert last_model(fake_openai) == "gpt-4o-mini"


async def test_an_unknown_persona_cannot_be_chosen(runtime: Runtime) -> None:
    answer = await persona_command(runtime, Command("persona", "pirat"))
    assert answer == "There is no persona called 'pirat'. Choose one of: helper, pirate."
    assert runtime.engine.persona_names() == ["helper", "pirate"]
    denied = await persona_command(runtime, Command("persona", "pirate"), admin=False)
    assert denied == "Only a Parley admin can switch personas."


async def test_a_choice_whose_persona_was_removed_falls_back_to_the_config(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    await persona_command(runtime, Command("persona", "pirate"))
    path = runtime.config.current.source
    text = path.read_text()
    path.write_text(text[: text.index("  pirate:")] + text[text.index("bots:") :])
    path.write_text(
        path.read_text()
        .replace("      C0PIRATE: {persona: pirate}\n", "")
        .replace("    channels:\n", "")
    )
    assert runtime.config.reload(), "the edited config should be valid"
    await turn(runtime, said("who answers?"))
    assert fake_openai.requests[-1]["model"] == "gpt-4o-mini"
