"""The load benchmark's other process: fake Slack and fake Discord, delivering a burst at once.

Driven over stdin/stdout, one JSON object per line, by bench/load.py and by
bench/load_replicas.py (which names how many replicas connect: `python -m bench.load_fakes
[REPLICAS]`), so the fakes' CPU time never counts as Parley's. Each conversation's first
message is a mention; in the "ordered" ones two more mentions follow in the same thread
straight after it (each sent once the previous delivery is acknowledged), and each reply must
answer its own message and have seen the replies before it.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.load_model import ANSWER, expected_reply, question, whole_reply
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.discord_shards import shard_of_guild
from tests.fakes.slack_server import FakeSlack

CHANNELS = 10
USERS = 20
# Threads made before Parley connects, so they arrive with the guild as on Discord.
READY_THREADS = 200


@dataclass
class Conversation:
    name: str  # e.g. "s12" (Slack) or "d12" (Discord)
    turns: int
    where: str = ""  # Slack: channel; Discord: the channel the first message goes to
    thread: str = ""  # Slack: root ts; Discord: the thread's id
    finals: list[float] = field(default_factory=list)  # when each reply's full text landed


class Burst:
    def __init__(self, slack: FakeSlack, discord: FakeDiscord, args: dict[str, Any]) -> None:
        self.slack, self.discord = slack, discord
        self.slack_count, self.discord_count = args["slack"], args["discord"]
        self.ordered, self.turns = args["ordered"], args["turns"]
        self.conversations: list[Conversation] = []
        # Each reply's full text names its conversation and turn, so a write showing one tells
        # which reply is done (even one that saw the wrong history: the check finds that).
        self.expected: dict[tuple[str, int], Conversation] = {}

    def plan(self, prefix: str, count: int) -> list[Conversation]:
        planned = []
        for i in range(count):
            turns = self.turns if i >= count - self.ordered else 1
            conversation = Conversation(f"{prefix}{i}", turns)
            for turn in range(1, turns + 1):
                self.expected[(conversation.name, turn)] = conversation
            planned.append(conversation)
        self.conversations.extend(planned)
        return planned

    async def run(self) -> dict[str, Any]:
        slack = self.plan("s", self.slack_count)
        discord = self.plan("d", self.discord_count)
        channels = self.discord.world.channels
        d_channels = [c for c, p in channels.items() if p.get("name", "").startswith("load-")]
        self.ready_threads = [
            c for c, p in channels.items() if p.get("name", "").startswith("ordered-")
        ]
        started = time.monotonic()
        await asyncio.gather(
            *(self.slack_conversation(c, n) for n, c in enumerate(slack)),
            *(self.discord_conversation(c, n, d_channels) for n, c in enumerate(discord)),
        )
        delivered = time.monotonic()
        await self.wait_for_replies(deadline=started + 120)
        return self.report(started, delivered)

    async def slack_conversation(self, conversation: Conversation, n: int) -> None:
        slack = self.slack
        conversation.where = f"C0LOAD{n % CHANNELS:03d}"
        conversation.thread = f"{1_700_000_000 + n}.000100"
        for turn in range(1, conversation.turns + 1):
            ts = f"{1_700_000_000 + n}.{100 + turn - 1:06d}"
            event: dict[str, Any] = {
                "type": "app_mention",
                "user": f"U0LOAD{n % USERS:03d}",
                "text": f"<@{slack.bot_user_id}> {question(conversation.name, turn)}",
                "ts": ts,
                "event_ts": ts,
                "channel": conversation.where,
                "channel_type": "channel",
                "team": slack.team_id,
            }
            if turn > 1:
                event["thread_ts"] = conversation.thread
            await slack.send_event(event)

    async def discord_conversation(
        self, conversation: Conversation, n: int, channels: list[str]
    ) -> None:
        fake = self.discord
        channel = channels[n % len(channels)]
        if conversation.turns > 1:
            # An existing thread, so the follow-ups have somewhere to go before Parley answers.
            channel = self.ready_threads.pop()
        for turn in range(1, conversation.turns + 1):
            text = f"<@{fake.bot_user_id}> {question(conversation.name, turn)}"
            event = fake.message_create(channel, fake.user_id, text, mentions=[fake.bot_user_id])
            if turn == 1:
                # A mention in a channel opens a thread named after the message.
                conversation.thread = channel if conversation.turns > 1 else str(event["id"])
            await fake.dispatch("MESSAGE_CREATE", event)

    async def wait_for_replies(self, deadline: float) -> None:
        wanted = sum(c.turns for c in self.conversations)
        seen: set[tuple[str, int]] = set()
        slack_cursor = discord_cursor = 0
        shown_at = time.monotonic()
        while len(seen) < wanted and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            if time.monotonic() - shown_at > 1:
                shown_at = time.monotonic()
                print(
                    f"{len(seen)} of {wanted} replies, calls {slack_cursor} Slack "
                    f"{discord_cursor} Discord",
                    file=sys.stderr,
                    flush=True,
                )
            for call in self.slack.calls[slack_cursor:]:
                self.note(self.slack_text(call.params), call.at, seen)
            slack_cursor = len(self.slack.calls)
            for rest in self.discord.calls[discord_cursor:]:
                if isinstance(rest.json, dict) and rest.method in ("POST", "PATCH"):
                    self.note(str(rest.json.get("content", "")).strip(), rest.at, seen)
            discord_cursor = len(self.discord.calls)
        await asyncio.sleep(0.5)  # a duplicate or stray post would land in the check
        routes = Counter(c.method for c in self.slack.calls)
        routes.update(f"{c.method} {_route(c.path)}" for c in self.discord.calls)
        print(dict(routes), file=sys.stderr, flush=True)

    def slack_text(self, params: dict[str, Any]) -> str:
        """The whole text of the message a call wrote to: a native stream (Slack's default)
        sends its reply in pieces, so no one call carries it."""
        message = self.slack.workspace.find(str(params.get("channel")), str(params.get("ts")))
        if message is None:  # chat.postMessage and chat.startStream name no ts
            return str(params.get("markdown_text", "")).strip()
        return (message.markdown_text or message.text).strip()

    def note(self, text: str, at: float, seen: set[tuple[str, int]]) -> None:
        reply = whole_reply(text)
        if reply in self.expected and reply not in seen:
            seen.add(reply)
            self.expected[reply].finals.append(at)

    def shown(self, conversation: Conversation) -> list[str]:
        if conversation.name.startswith("s"):
            messages = self.slack.thread(conversation.where, conversation.thread)
            mine = [m for m in messages if m.user == self.slack.bot_user_id]
            return [(m.markdown_text or m.text).strip() for m in mine]
        try:
            return [m.content.strip() for m in self.discord.posted(conversation.thread)]
        except KeyError:
            return []

    def report(self, started: float, delivered: float) -> dict[str, Any]:
        problems: list[str] = []
        finals = misordered = 0
        for c in self.conversations:
            shown = self.shown(c)
            wanted = [expected_reply(c.name, turn) for turn in range(1, c.turns + 1)]
            finals += sum(1 for text in shown if text in wanted)
            if shown != wanted:
                problem = f"{c.name}: shows {shown!r}, expected {wanted!r}"
                if _each_answered_once(shown, c.turns):
                    misordered += 1
                    problems.append(problem)
                else:  # a message lost or answered twice: shown first
                    problems.insert(0, problem)
        firsts = [c.finals[0] for c in self.conversations if c.finals]
        lasts = [c.finals[-1] for c in self.conversations if c.finals]
        return {
            "conversations": len(self.conversations),
            "messages": sum(c.turns for c in self.conversations),
            "final_replies": finals,
            "slack_calls": len(self.slack.calls),
            "discord_calls": len(self.discord.calls),
            "delivery_s": delivered - started,
            "first_replies_s": max(firsts) - started if firsts else -1.0,
            "single_turn_s": _single_turn_wall(self.conversations, started),
            "all_replies_s": max(lasts) - started if lasts else -1.0,
            "all_slack_s": _last(self.conversations, "s", started),
            "all_discord_s": _last(self.conversations, "d", started),
            "problems": problems[:10],
            "problem_count": len(problems),
            "misordered": misordered,
        }


def _each_answered_once(shown: list[str], turns: int) -> bool:
    """Every message got one reply, none lost or doubled: only the order (or what a reply
    had seen before it) was wrong."""
    answered = sorted(int(found.group(1)) for text in shown if (found := ANSWER.search(text)))
    return len(shown) == turns and answered == list(range(1, turns + 1))


def _route(path: str) -> str:
    return re.sub(r"\d{15,}", "{id}", path)


def _last(conversations: list[Conversation], prefix: str, started: float) -> float:
    ends = [c.finals[-1] for c in conversations if c.name.startswith(prefix) and c.finals]
    return max(ends) - started if ends else -1.0


def _single_turn_wall(conversations: list[Conversation], started: float) -> float:
    ends = [c.finals[0] for c in conversations if c.turns == 1 and c.finals]
    return max(ends) - started if ends else -1.0


def prepare(slack: FakeSlack, discord: FakeDiscord) -> list[str]:
    """Users, channels and ready threads; with several shards, one server per shard and the
    channels and threads dealt over them, so the conversations spread over the shards.
    Returns the servers' ids."""
    count = discord.gateway.shard_count
    guilds = [_guild_on(discord, shard) for shard in range(count)]
    for n in range(USERS):
        slack.add_user(f"U0LOAD{n:03d}", f"Load User {n}")
    for n in range(CHANNELS):
        slack.add_channel(f"C0LOAD{n:03d}", f"load-{n}")
        discord.add_channel(discord.world.ids.next(), f"load-{n}", guilds[n % count][0])
    for n in range(READY_THREADS):
        discord.add_thread(guilds[n % count][1], f"ordered-{n}")
    return [guild for guild, _ in guilds]


def _guild_on(discord: FakeDiscord, shard: int) -> tuple[str, str]:
    """A server Discord puts on `shard`, and a channel of it: the fake's own where it fits."""
    if shard_of_guild(discord.guild_id, discord.gateway.shard_count) == shard:
        return discord.guild_id, discord.channel_id
    return discord.add_guild_on_shard(shard)


async def main(replicas: int) -> None:
    """`replicas` Parley processes each open a Socket Mode connection and run one of as many
    Discord shards (one replica: one unsharded session)."""
    # Slack's chat.update limit (about 50 a minute per workspace) would stretch 500 replies
    # in one workspace over ten minutes; this benchmark measures Parley's own work.
    fakes = FakeSlack(updates_per_minute=None), FakeDiscord(shards=replicas)
    async with fakes[0] as slack, fakes[1] as discord:
        guilds = prepare(slack, discord)
        _send(
            {
                "slack_url": slack.api_url,
                "bot_token": slack.bot_token,
                "app_token": slack.app_token,
                "discord_api_url": discord.api_url,
                "gateway_url": discord.gateway_url,
                "discord_token": discord.token,
                "guild": discord.guild_id,
                "guilds": guilds,
            }
        )
        await slack.wait_connected(timeout=60, count=replicas)
        for shard in range(replicas):
            await discord.wait_ready(shard)
        _send({"connected": True})
        # One burst per process: conversation names and event ids would repeat in a second.
        loop = asyncio.get_running_loop()
        line = await loop.run_in_executor(None, sys.stdin.readline)
        _send(await Burst(slack, discord, json.loads(line)).run())
        # Stay up until the driver has stopped its bots, so they are not left reconnecting.
        await loop.run_in_executor(None, sys.stdin.readline)


def _send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1))
