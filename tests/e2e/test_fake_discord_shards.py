"""The fake Discord's sharding, spoken to over a bare WebSocket: what Discord enforces on
IDENTIFY's `shard`, and what each shard's session is sent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.discord_gateway import INVALID_SHARD
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.discord_shards import shard_of_guild

COUNT = 3


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(shards=COUNT, max_concurrency=2) as fake:
        for shard in range(COUNT):
            fake.add_guild_on_shard(shard)
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:  # trust_env off: no proxy for 127.0.0.1
        yield session


async def identify(
    http: aiohttp.ClientSession, fake: FakeDiscord, shard: object
) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(f"{fake.gateway_url}?v=10&encoding=json")
    hello = json.loads((await ws.receive()).data)
    assert hello["op"] == 10
    data: dict[str, Any] = {"token": fake.token, "intents": 0, "properties": {}}
    if shard is not None:
        data["shard"] = shard
    await ws.send_json({"op": 2, "d": data})
    return ws


async def dispatches(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[dict[str, Any]]:
    return [json.loads((await ws.receive()).data) for _ in range(n)]


async def test_gateway_bot_recommends_the_shard_count(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": f"Bot {fake.token}"}
    async with http.get(f"{fake.api_url}/gateway/bot", headers=headers) as response:
        body = await response.json()
    assert body["shards"] == COUNT
    assert body["session_start_limit"]["max_concurrency"] == 2


async def test_each_shard_session_is_sent_its_own_servers(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    for shard in range(COUNT):
        ws = await identify(http, fake, [shard, COUNT])
        ready, *creates = await dispatches(ws, 1 + 1 + (shard == 1))  # the fake's own is on 1
        assert ready["t"] == "READY" and ready["d"]["shard"] == [shard, COUNT]
        listed = [guild["id"] for guild in ready["d"]["guilds"]]
        assert [create["d"]["id"] for create in creates] == listed
        assert all(shard_of_guild(guild, COUNT) == shard for guild in listed)
        await ws.close()


@pytest.mark.parametrize("shard", [[3, 3], [-1, 3], [0, 0], [0], "0,3"])
async def test_a_shard_that_cannot_be_is_closed_with_4010(
    fake: FakeDiscord, http: aiohttp.ClientSession, shard: object
) -> None:
    ws = await identify(http, fake, shard)
    closing = await ws.receive()
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == INVALID_SHARD
    assert fake.identify_count == 0


async def test_a_count_other_live_sessions_do_not_use_is_closed_with_4010(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    first = await identify(http, fake, [1, COUNT])
    await fake.wait_ready(shard=1)
    second = await identify(http, fake, [0, 2])
    await second.receive()
    assert second.close_code == INVALID_SHARD
    assert fake.identify_count == 1
    await first.close()
