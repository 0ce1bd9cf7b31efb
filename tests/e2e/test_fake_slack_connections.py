"""FakeSlack with several Socket Mode connections of one app (replicas), against real slack_bolt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_connections import MAX_CONNECTIONS
from tests.fakes.slack_server import FakeSlack, wait_until
from tests.fakes.waiting import deadline

CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"


@dataclass
class Replica:
    """One bolt app on its own Socket Mode connection, noting the events it was handed."""

    name: str
    handler: AsyncSocketModeHandler
    # (event_id, retry number) per delivery, in order.
    seen: list[tuple[str, int]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The URL its connection was opened with: how the fake tells connections apart."""
        return str(self.handler.client.wss_uri)


def build_replica(fake: FakeSlack, name: str) -> Replica:
    app = AsyncApp(
        signing_secret="s", client=AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    )
    replica = Replica(name, AsyncSocketModeHandler(app, fake.app_token))

    @app.event("app_mention")
    async def note(body: dict[str, Any], request: AsyncBoltRequest) -> None:
        retry = request.headers.get("x-slack-retry-num", ["0"])[0]
        replica.seen.append((str(body["event_id"]), int(retry)))

    return replica


def mention(fake: FakeSlack, text: str) -> dict[str, Any]:
    ts = fake.next_ts()
    return {
        "type": "app_mention",
        "user": ALICE,
        "text": f"<@{fake.bot_user_id}> {text}",
        "ts": ts,
        "channel": CHANNEL,
        "event_ts": ts,
    }


@pytest.fixture
async def replicas(fake_slack: FakeSlack) -> AsyncIterator[list[Replica]]:
    """Two bolt apps of one Slack app, connected in order: A is connection 0, B is 1."""
    async with AsyncExitStack() as stack:
        both = []
        for count, name in enumerate(("A", "B"), start=1):
            replica = build_replica(fake_slack, name)
            await replica.handler.connect_async()  # type: ignore[no-untyped-call]  # untyped
            stack.push_async_callback(replica.handler.close_async)
            await fake_slack.wait_connected(count=count)
            both.append(replica)
        yield both


async def test_events_are_spread_over_both_connections(
    fake_slack: FakeSlack, replicas: list[Replica]
) -> None:
    a, b = replicas
    sent = [
        fake_slack.socket.sent[await fake_slack.send_event(mention(fake_slack, f"n{n}"))]
        for n in range(4)
    ]

    event_ids = [str(envelope["payload"]["event_id"]) for envelope in sent]
    await wait_until(lambda: len(a.seen) + len(b.seen) == 4)
    assert [event_id for event_id, _ in a.seen] == event_ids[0::2]
    assert [event_id for event_id, _ in b.seen] == event_ids[1::2]


async def test_a_test_chooses_the_connection(
    fake_slack: FakeSlack, replicas: list[Replica]
) -> None:
    a, b = replicas
    to_b = await fake_slack.send_event(mention(fake_slack, "b"), event_id="Ev0B", to=b.url)
    to_a = await fake_slack.send_event(mention(fake_slack, "a"), event_id="Ev0A", to=0)

    await wait_until(lambda: len(a.seen) + len(b.seen) == 2)
    assert (a.seen, b.seen) == ([("Ev0A", 0)], [("Ev0B", 0)])
    assert fake_slack.socket.delivered_to == {to_b: 2, to_a: 1}


async def test_a_redelivery_reaches_the_other_connection(
    fake_slack: FakeSlack, replicas: list[Replica]
) -> None:
    a, b = replicas
    first = await fake_slack.send_event(mention(fake_slack, "once"), event_id="Ev0R", to=a.url)
    retry = await fake_slack.redeliver(first, "timeout")

    await wait_until(lambda: len(b.seen) == 1)
    assert (a.seen, b.seen) == ([("Ev0R", 0)], [("Ev0R", 1)])
    assert retry != first
    assert fake_slack.socket.sent[retry]["retry_reason"] == "timeout"
    assert set(fake_slack.acks) == {first, retry}


async def test_a_closed_connection_takes_only_itself_away(
    fake_slack: FakeSlack, replicas: list[Replica]
) -> None:
    a, b = replicas
    await a.handler.close_async()  # type: ignore[no-untyped-call]  # bolt leaves it untyped
    await wait_until(lambda: len(fake_slack.socket.pool.open) == 1)

    for n in range(2):
        await fake_slack.send_event(mention(fake_slack, f"after {n}"), event_id=f"Ev0{n}")

    await wait_until(lambda: len(b.seen) == 2)
    assert a.seen == []
    assert fake_slack.connections == 2  # no reconnect: B was never disturbed


async def test_an_eleventh_connection_is_refused_as_too_many() -> None:
    async with FakeSlack() as fake, aiohttp.ClientSession() as session, AsyncExitStack() as open_:
        apps = AsyncWebClient(token=fake.app_token, base_url=fake.api_url)
        counts = []
        for _ in range(MAX_CONNECTIONS):
            url = (await apps.apps_connections_open(app_token=fake.app_token))["url"]
            socket = await open_.enter_async_context(session.ws_connect(url))
            counts.append((await socket.receive_json())["num_connections"])
        url = (await apps.apps_connections_open(app_token=fake.app_token))["url"]
        async with session.ws_connect(url) as eleventh, deadline(30, "no refusal came"):
            refusal = await eleventh.receive_json()
            assert (await eleventh.receive()).type == aiohttp.WSMsgType.CLOSE

    assert counts == list(range(1, MAX_CONNECTIONS + 1))
    assert (refusal["type"], refusal["reason"]) == ("disconnect", "too_many_websockets")
    assert (fake.connections, fake.socket.refused) == (MAX_CONNECTIONS, 1)


async def test_an_envelope_may_be_acked_on_another_connection(fake_slack: FakeSlack) -> None:
    apps = AsyncWebClient(token=fake_slack.app_token, base_url=fake_slack.api_url)
    async with aiohttp.ClientSession() as session, AsyncExitStack() as open_:
        sockets = []
        for _ in range(2):
            url = (await apps.apps_connections_open(app_token=fake_slack.app_token))["url"]
            sockets.append(await open_.enter_async_context(session.ws_connect(url)))
            assert (await sockets[-1].receive_json())["type"] == "hello"
        await fake_slack.send_envelope({"envelope_id": "e1", "type": "events_api"}, to=0)
        assert (await sockets[0].receive_json())["envelope_id"] == "e1"
        await sockets[1].send_json({"envelope_id": "e1"})
        await wait_until(lambda: fake_slack.acks == ["e1"])
    assert fake_slack.socket.delivered_to == {"e1": 1}
