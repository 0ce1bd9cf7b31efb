"""Which shards a replica claims before connecting, and what `parley check` says of them."""

from __future__ import annotations

import logging

import pytest

from bots.discord.shard_config import DiscordShards, describe_shards
from bots.discord.shards import ShardPlan, claim_shards
from core.coordination import LocalCoordination
from core.errors import ParleyError
from tests.fakes.coordination import SharedRoles


async def test_one_process_runs_every_shard_when_none_are_named() -> None:
    plan = await claim_shards("disco", DiscordShards(count=3), LocalCoordination("a"))
    assert plan == ShardPlan(3, (0, 1, 2))


async def test_an_unsharded_bot_still_claims_its_one_session() -> None:
    """Two replicas on one unsharded bot would each answer every message."""
    roles = SharedRoles()
    assert await claim_shards("disco", DiscordShards(), roles.replica("a")) == ShardPlan(1, (0,))
    with pytest.raises(ParleyError, match="shard 0 of 1 is run by another live replica"):
        await claim_shards("disco", DiscordShards(), roles.replica("b"))


async def test_a_refused_shard_stops_the_claim_before_the_shards_after_it() -> None:
    roles = SharedRoles()
    await roles.replica("other").hold("discord:disco:shard:1")
    with pytest.raises(ParleyError, match="shard 1 of 4"):
        await claim_shards("disco", DiscordShards(count=4, ids=(0, 1, 2)), roles.replica("me"))
    # Shard 2 stays free for another replica; shard 0 was held before the refusal.
    assert roles.holders == {"discord:disco:shard:1": "other", "discord:disco:shard:0": "me"}


async def test_per_replica_takes_what_is_free_and_says_when_it_is_less(
    caplog: pytest.LogCaptureFixture,
) -> None:
    roles = SharedRoles()
    shards = DiscordShards(count=3, per_replica=2)
    assert await claim_shards("disco", shards, roles.replica("a")) == ShardPlan(3, (0, 1))
    assert await claim_shards("disco", shards, roles.replica("b")) == ShardPlan(3, (2,))
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["discord bot disco: only 1 of the 2 shards per_replica asks for were free"]
    assert await claim_shards("disco", shards, roles.replica("c")) is None


async def test_the_shards_this_replica_runs_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bots.discord.shards")
    await claim_shards("disco", DiscordShards(count=3, ids=(0, 2)), LocalCoordination("web-1"))
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert said == ["discord bot disco runs shards 0, 2 of 3 on replica web-1"]


@pytest.mark.parametrize(
    ("shards", "note"),
    [
        (DiscordShards(), None),
        (DiscordShards(count=3), "shards: 3, all run by this replica"),
        (DiscordShards(count=3, ids=(1,)), "shards: 3, this replica runs 1"),
        (
            DiscordShards(count=6, per_replica=2),
            "shards: 6, each replica runs the first 2 no other live replica runs",
        ),
    ],
)
def test_check_describes_the_shards(shards: DiscordShards, note: str | None) -> None:
    assert describe_shards(shards) == note


async def test_replicas_disagreeing_on_the_shard_count_stop_the_bot_with_one_line() -> None:
    """Shard 0 of 3 and shard 1 of 2 would both get the servers whose id is 3 (mod 6)."""
    roles = SharedRoles()
    per_replica = {"count": 3, "per_replica": 1}
    await claim_shards("disco", DiscordShards(**per_replica), roles.replica("a"))
    with pytest.raises(ParleyError, match=r"shards\.count 3, this one with 2; every replica"):
        await claim_shards("disco", DiscordShards(count=2, per_replica=1), roles.replica("b"))
    assert roles.holders == {"discord:disco:shard:0": "a"}  # b claimed nothing
    assert await claim_shards("disco", DiscordShards(**per_replica), roles.replica("c"))
