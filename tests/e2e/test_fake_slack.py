"""FakeSlack against the real slack_bolt and slack_sdk: Socket Mode, Web API, files, signing."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_server import FakeSlack, wait_until
from tests.fakes.slack_signing import signed_headers

CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"


def mention(fake: FakeSlack, text: str, thread_ts: str | None = None) -> dict[str, Any]:
    ts = fake.next_ts()
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": ALICE,
        "text": f"<@{fake.bot_user_id}> {text}",
        "ts": ts,
        "channel": CHANNEL,
        "event_ts": ts,
        "team": fake.team_id,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def build_app(fake: FakeSlack) -> AsyncApp:
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    app = AsyncApp(signing_secret="s", client=client)

    @app.event("app_mention")
    async def reply(event: dict[str, Any], say: AsyncSay) -> None:
        thread_ts = event.get("thread_ts") or event["ts"]
        await say(text=f"echo: {event['text']}", thread_ts=thread_ts)

    return app


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def handler(fake: FakeSlack) -> AsyncIterator[AsyncSocketModeHandler]:
    handler = AsyncSocketModeHandler(build_app(fake), fake.app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]  # bolt leaves it untyped
    try:
        yield handler
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]  # bolt leaves it untyped


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)


async def test_bolt_replies_in_thread_over_socket_mode(
    fake: FakeSlack, handler: AsyncSocketModeHandler
) -> None:
    await fake.wait_connected()
    event = mention(fake, "hello")
    envelope_id = await fake.send_event(event)

    await wait_until(lambda: len(fake.thread(CHANNEL, event["ts"])) == 2)
    root, reply = fake.thread(CHANNEL, event["ts"])
    assert (root.user, reply.user) == (ALICE, fake.bot_user_id)
    assert reply.text == f"echo: <@{fake.bot_user_id}> hello"
    assert reply.thread_ts == event["ts"]
    assert fake.posted(CHANNEL) == [reply]
    assert envelope_id in fake.acks
    opened = fake.calls_to("apps.connections.open")
    assert [call.token for call in opened] == [fake.app_token]
    assert [call.token for call in fake.calls_to("auth.test")] == [fake.bot_token]
    post = fake.calls_to("chat.postMessage")[0]
    assert post.params["channel"] == CHANNEL


async def test_client_reconnects_after_disconnect(
    fake: FakeSlack, handler: AsyncSocketModeHandler
) -> None:
    await fake.wait_connected()
    await fake.disconnect_client()
    await wait_until(lambda: fake.connections == 2)
    event = mention(fake, "still there?")
    envelope_id = await fake.send_event(event, retry_attempt=1, retry_reason="timeout")

    await wait_until(lambda: len(fake.thread(CHANNEL, event["ts"])) == 2)
    assert len(fake.calls_to("apps.connections.open")) == 2
    assert fake.acks == [envelope_id]


async def test_users_info_and_conversations_info(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_user(ALICE, "alice", real_name="Alice Liddell")
    fake.add_channel("D0ALICE", "alice-dm", is_im=True)

    user = await client.users_info(user=ALICE)
    channel = await client.conversations_info(channel="D0ALICE")

    assert user["user"]["profile"]["display_name"] == "alice"
    assert user["user"]["real_name"] == "Alice Liddell"
    assert channel["channel"]["is_im"] is True
    with pytest.raises(SlackApiError) as raised:
        await client.users_info(user="U0NOBODY")
    assert raised.value.response["error"] == "user_not_found"
    assert fake.calls_to("users.info")[0].params == {"user": ALICE}


async def test_conversations_replies_pages_through_a_thread(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    root = "1690000000.000100"
    fake.add_message(CHANNEL, root, ALICE, "question", thread_ts=root)
    fake.add_message(CHANNEL, "1690000001.000100", "U0BOB", "first", thread_ts=root)
    await client.chat_postMessage(channel=CHANNEL, text="answer", thread_ts=root)

    first = await client.conversations_replies(channel=CHANNEL, ts=root, limit=2)
    cursor = first["response_metadata"]["next_cursor"]
    second = await client.conversations_replies(channel=CHANNEL, ts=root, cursor=cursor)

    assert [m["text"] for m in first["messages"]] == ["question", "first"]
    assert first["messages"][0]["reply_count"] == 2
    assert [m["text"] for m in second["messages"]] == ["answer"]
    assert second["messages"][0]["bot_id"] == fake.bot_id
    assert second["response_metadata"]["next_cursor"] == ""


async def test_update_and_delete_track_edits(fake: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=CHANNEL, markdown_text="**draft**")
    await client.chat_update(channel=CHANNEL, ts=posted["ts"], markdown_text="**final**")

    [message] = fake.posted(CHANNEL)
    assert (message.markdown_text, message.edits) == ("**final**", 1)
    await client.chat_delete(channel=CHANNEL, ts=posted["ts"])
    assert fake.posted(CHANNEL) == []
    with pytest.raises(SlackApiError) as raised:
        await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="gone")
    assert raised.value.response["error"] == "message_not_found"


async def test_file_download_needs_the_bot_token(fake: FakeSlack) -> None:
    file = fake.add_file("F0NOTES", "notes.txt", "text/plain", b"hello file")
    async with aiohttp.ClientSession() as session:
        bearer = {"Authorization": f"Bearer {fake.bot_token}"}
        async with session.get(file["url_private_download"], headers=bearer) as response:
            assert response.status == 200
            assert await response.read() == b"hello file"
        async with session.get(file["url_private"]) as response:
            assert response.status == 403

    assert [d.status for d in fake.downloads] == [200, 403]
    assert fake.downloads[0].token == fake.bot_token
    assert file["size"] == len(b"hello file")


async def test_rate_limit_is_retried_by_the_sdk_handler(fake: FakeSlack) -> None:
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    fake.fail_next("chat.postMessage", status=429, retry_after=0)

    response = await client.chat_postMessage(channel=CHANNEL, text="after a pause")

    assert response["ok"] is True
    assert len(fake.calls_to("chat.postMessage")) == 2
    assert [m.text for m in fake.posted(CHANNEL)] == ["after a pause"]


async def test_rate_limit_without_handler_raises(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7)

    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=CHANNEL, text="too fast")

    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert raised.value.response.headers["Retry-After"] == "7"
    assert fake.posted(CHANNEL) == []


async def test_slack_level_errors(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", error="not_in_channel")
    fake.fail_next("chat.postMessage", error="missing_scope")

    with pytest.raises(SlackApiError) as not_in_channel:
        await client.chat_postMessage(channel=CHANNEL, text="hi")
    with pytest.raises(SlackApiError) as missing_scope:
        await client.chat_postMessage(channel=CHANNEL, text="hi")
    with pytest.raises(SlackApiError) as unknown:
        await client.api_call("chat.imagine")
    await client.chat_postMessage(channel=CHANNEL, text="hi")

    assert not_in_channel.value.response.status_code == 200
    assert not_in_channel.value.response["error"] == "not_in_channel"
    assert missing_scope.value.response["needed"] == "chat:write"
    assert unknown.value.response["error"] == "unknown_method"
    assert len(fake.posted(CHANNEL)) == 1


async def test_signed_headers_pass_slack_verification() -> None:
    body = json.dumps({"type": "event_callback"}).encode()
    headers = signed_headers(body, "secret")
    verifier = SignatureVerifier("secret")
    stale = signed_headers(body, "secret", timestamp=int(time.time()) - 600)

    assert verifier.is_valid_request(body, headers) is True
    assert verifier.is_valid_request(body + b" ", headers) is False
    assert verifier.is_valid_request(body, stale) is False


async def test_signed_event_callback_is_accepted_by_bolt_in_http_mode(fake: FakeSlack) -> None:
    app = build_app(fake)
    event = mention(fake, "over http")
    body = json.dumps(fake.event_callback(event)).encode()
    forged = {**signed_headers(body, "s"), "X-Slack-Signature": "v0=00"}

    accepted = await app.async_dispatch(
        AsyncBoltRequest(body=body.decode(), headers=dict(signed_headers(body, "s")))
    )
    refused = await app.async_dispatch(AsyncBoltRequest(body=body.decode(), headers=dict(forged)))

    assert (accepted.status, refused.status) == (200, 401)
    await wait_until(lambda: len(fake.posted(CHANNEL)) == 1)
    assert fake.posted(CHANNEL)[0].thread_ts == event["ts"]


async def test_assistant_and_team_methods_are_recorded(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    prompts = [{"title": "Summarise", "message": "Summarise this thread"}]
    fake.open_assistant_thread("D0A", "1.2")
    await client.assistant_threads_setStatus(channel_id="D0A", thread_ts="1.2", status="thinking")
    await client.assistant_threads_setSuggestedPrompts(
        channel_id="D0A", thread_ts="1.2", prompts=prompts, title="Try"
    )
    await client.assistant_threads_setTitle(channel_id="D0A", thread_ts="1.2", title="Chat")
    team = await client.team_info()

    assert team["team"] == {
        "id": "T0ACME",
        "name": "Acme",
        "domain": "acme",
        "email_domain": "",
        "icon": {"image_default": True},
    }
    assert fake.calls_to("assistant.threads.setStatus")[0].params["status"] == "thinking"
    assert fake.calls_to("assistant.threads.setSuggestedPrompts")[0].params["prompts"] == prompts
    assert fake.calls_to("assistant.threads.setTitle")[0].params["title"] == "Chat"


PROMPTS = [{"title": "Hi", "message": "Say hi"}]


@pytest.mark.parametrize(
    "method,params",
    [
        ("assistant_threads_setStatus", {"channel_id": "D0A", "status": "thinking"}),
        ("assistant_threads_setTitle", {"channel_id": "D0A", "title": "Chat"}),
        ("assistant_threads_setTitle", {"channel_id": CHANNEL, "title": "Chat"}),
        ("assistant_threads_setSuggestedPrompts", {"channel_id": "D0A", "prompts": PROMPTS}),
    ],
)
async def test_assistant_methods_fail_outside_an_assistant_thread(
    fake: FakeSlack, client: AsyncWebClient, method: str, params: dict[str, Any]
) -> None:
    fake.workspace.app_view = "assistant"  # an app created before the agent view
    fake.open_assistant_thread("D0A", "1.2")
    with pytest.raises(SlackApiError) as raised:
        await getattr(client, method)(thread_ts="9.9", **params)
    assert raised.value.response["error"] == "invalid_thread_ts"


async def test_agent_view_prompts_sit_atop_the_dm_and_a_thread_ts_is_ignored(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    await client.assistant_threads_setSuggestedPrompts(channel_id="D0A", prompts=PROMPTS)
    ignored = [{"title": "No", "message": "Never shown"}]
    await client.assistant_threads_setSuggestedPrompts(
        channel_id="D0A", thread_ts="1.2", prompts=ignored
    )
    assert fake.workspace.suggested_prompts == {"D0A": PROMPTS}
    with pytest.raises(SlackApiError) as raised:
        await client.assistant_threads_setSuggestedPrompts(channel_id="D0A", prompts=PROMPTS * 5)
    assert raised.value.response["error"] == "invalid_arguments"
    # Any thread of the app's DM shows a status in the agent view.
    await client.assistant_threads_setStatus(channel_id="D0A", thread_ts="3.4", status="thinking")


async def test_a_status_in_a_channel_thread_is_allowed(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """Since 2026-03 channel-based apps may show a loading status in channel threads."""
    response = await client.assistant_threads_setStatus(
        channel_id=CHANNEL, thread_ts="9.9", status="thinking"
    )
    assert response["ok"] is True


async def test_chat_update_beyond_tier_3_is_rate_limited() -> None:
    async with FakeSlack(updates_per_minute=2) as fake:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
        posted = await client.chat_postMessage(channel=CHANNEL, text="v0")
        for n in (1, 2):
            await client.chat_update(channel=CHANNEL, ts=posted["ts"], text=f"v{n}")
        with pytest.raises(SlackApiError) as raised:
            await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="v3")
    response = raised.value.response
    assert (response.status_code, response["error"]) == (429, "ratelimited")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert fake.thread(CHANNEL, posted["ts"])[0].text == "v2"


async def test_an_envelope_not_acked_in_time_is_a_violation() -> None:
    async with FakeSlack(ack_window=0.05) as fake, aiohttp.ClientSession() as session:
        opened = await AsyncWebClient(
            token=fake.app_token, base_url=fake.api_url
        ).apps_connections_open(app_token=fake.app_token)
        async with session.ws_connect(opened["url"]) as socket:
            assert (await socket.receive_json())["type"] == "hello"
            await fake.send_envelope({"envelope_id": "e1", "type": "events_api", "payload": {}})
            assert (await socket.receive_json())["envelope_id"] == "e1"  # read, never acked
            await wait_until(lambda: bool(fake.violations))
    assert fake.violations == ["envelope e1 was not acknowledged within 0.05 s"]
