"""The Discord shards this replica runs: claimed before connecting, so no two replicas run
one shard (each would answer its servers), and their IDENTIFYs paced as Discord allows."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bots.discord.shard_config import DiscordShards
from core.coordination import Coordination
from core.errors import ParleyError

log = logging.getLogger(__name__)

# Discord lets `max_concurrency` shards IDENTIFY per 5 s: one per bucket (shard id modulo it).
IDENTIFY_WINDOW = 5.0


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """`ids` of `count` shards: one gateway session each; a count of 1 is a plain session."""

    count: int
    ids: tuple[int, ...]

    @property
    def sharded(self) -> bool:
        return self.count > 1

    def describe(self) -> str:
        listed = ", ".join(str(shard) for shard in self.ids)
        return f"shard{'s' if len(self.ids) > 1 else ''} {listed} of {self.count}"


def shard_role(bot: str, shard: int) -> str:
    return f"discord:{bot}:shard:{shard}"


async def claim_shards(
    bot: str, shards: DiscordShards, coordination: Coordination
) -> ShardPlan | None:
    """This replica's shards, each held for the process's life. Named shards (`ids`, or
    all of them) another live replica holds stop the bot with an error; `per_replica`
    takes the first free ones, and None when there are none (warned). Replicas that
    disagree on `count` stop the bot: shard 0 of 2 and shard 1 of 3 share servers, which
    would be answered twice."""
    other = await coordination.agree(f"discord:{bot}:shard-count", shards.count)
    if other is not None:
        raise ParleyError(
            f"discord bot {bot}: another live replica runs it with shards.count {other}, "
            f"this one with {shards.count}; every replica must use the same count"
        )
    if shards.per_replica is not None:
        return await _claim_free(bot, shards.count, shards.per_replica, coordination)
    wanted = shards.ids if shards.ids is not None else tuple(range(shards.count))
    for shard in wanted:
        # Stops at the first refusal: holding the rest would keep them from other replicas.
        if not await coordination.hold(shard_role(bot, shard)):
            raise ParleyError(
                f"discord bot {bot}: shard {shard} of {shards.count} is run by another live "
                "replica; give each replica its own shards.ids, or use shards.per_replica"
            )
    return _running(bot, ShardPlan(shards.count, wanted), coordination)


async def _claim_free(
    bot: str, count: int, per_replica: int, coordination: Coordination
) -> ShardPlan | None:
    claimed: list[int] = []
    for shard in range(count):
        if len(claimed) == per_replica:
            break
        if await coordination.hold(shard_role(bot, shard)):
            claimed.append(shard)
    if not claimed:
        log.warning(
            "discord bot %s: other live replicas run all of its %d shards; not started on "
            "replica %s (raise shards.count, or run fewer replicas)",
            bot,
            count,
            coordination.replica,
        )
        return None
    if len(claimed) < per_replica:
        log.warning(
            "discord bot %s: only %d of the %d shards per_replica asks for were free",
            bot,
            len(claimed),
            per_replica,
        )
    return _running(bot, ShardPlan(count, tuple(claimed)), coordination)


def _running(bot: str, plan: ShardPlan, coordination: Coordination) -> ShardPlan:
    level = logging.INFO if plan.sharded else logging.DEBUG
    where = f" on replica {coordination.replica}" if coordination.replica else ""
    log.log(level, "discord bot %s runs %s%s", bot, plan.describe(), where)
    return plan


class IdentifyPacing:
    """Spaces IDENTIFYs as Discord's session start limit says; discord.py's default waits
    5 s before each but the first, whatever `max_concurrency` allows."""

    def __init__(self) -> None:
        self.max_concurrency = 1  # until GET /gateway/bot says otherwise
        self._next_turn: dict[int, float] = {}

    async def wait_turn(self, shard: int) -> None:
        bucket = shard % max(self.max_concurrency, 1)
        now = asyncio.get_running_loop().time()
        turn = max(now, self._next_turn.get(bucket, now))
        self._next_turn[bucket] = turn + IDENTIFY_WINDOW
        if turn > now:
            await asyncio.sleep(turn - now)
