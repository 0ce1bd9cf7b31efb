"""Approvals across replicas: a click that lands on a replica other than the one whose turn
asked is relayed to the others, decided by the replica holding the request, answered back.

Slack hands an interaction to any of the app's Socket Mode connections, so with several
replicas a click usually reaches one that never saw the request. It asks the others over
`Coordination.publish`; the holder decides exactly as for a local click (same person, same
thread, once, expiry) and publishes the result; the replica that got the click returns it
to its adapter, which shows a refusal to the clicker as for a local click. Replicas that do
not hold the request stay silent, so no answer in RELAY_SECONDS means the holder is gone:
the click is answered like one on an unknown request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from dataclasses import asdict
from typing import Any, Final, get_args

from core.coordination import Coordination, LocalCoordination
from core.tools.approvals import Approvals, ApprovalSurface
from core.types import (
    ApprovalClick,
    ApprovalResult,
    ApprovalSettled,
    Author,
    ConversationKey,
)

log = logging.getLogger("core.tools")

CHANNEL: Final = "approvals"
# A NOTIFY round trip takes milliseconds; this only bounds a holder that died. Under
# Discord's 3 s to answer an interaction, so even a relayed click answers in time there.
RELAY_SECONDS: Final = 2.0
_RESULTS: Final = frozenset(get_args(ApprovalResult))


class SharedApprovals:
    """This replica's Approvals, and the word with the other replicas about theirs."""

    def __init__(self, approvals: Approvals, coordination: Coordination) -> None:
        self._approvals = approvals
        self._coordination = coordination
        # One process (SQLite) is every replica there is: nobody else could hold a request.
        self._alone = isinstance(coordination, LocalCoordination)
        self._subscribed = False
        self._subscribing = asyncio.Lock()
        self._asked: dict[str, asyncio.Future[ApprovalResult]] = {}  # relayed clicks, by token
        # Answers on their way to the replica that relayed a click: each one publish,
        # bounded by RELAY_SECONDS, so none outlives the click it answers by much.
        self._answers: set[asyncio.Task[None]] = set()

    async def ask(
        self, bot: str, key: ConversationKey, tool: str, arguments: str, asked_by: Author,
        sink: ApprovalSurface, seconds: float,
    ) -> ApprovalSettled:  # fmt: skip
        """As `Approvals.ask`; listening first, so a click relayed from another replica finds
        its request from the moment its buttons are shown."""
        await self._listening()
        return await self._approvals.ask(bot, key, tool, arguments, asked_by, sink, seconds)

    async def click(self, click: ApprovalClick) -> ApprovalResult:
        """Decides the click here if this replica holds (or held) the request, else asks the
        replica that does."""
        if self._alone or self._approvals.knows(click.approval_id):
            return self._approvals.click(click)
        return await self._relayed(click)

    async def withdraw(self, key: ConversationKey, by: str) -> int:
        """Withdraws the conversation's waiting requests here and on every other replica;
        returns how many were withdrawn here."""
        withdrawn = self._approvals.withdraw(key, by)
        word = {"kind": "withdraw", "key": list(_key_fields(key)), "by": by}
        await self._say(json.dumps(word), f"withdrawing approvals in {key}")
        return withdrawn

    async def _relayed(self, click: ApprovalClick) -> ApprovalResult:
        await self._listening()
        token = secrets.token_urlsafe(12)
        answer: asyncio.Future[ApprovalResult] = asyncio.get_running_loop().create_future()
        self._asked[token] = answer
        try:
            word = {"kind": "click", "token": token, "click": asdict(click)}
            if not await self._say(json.dumps(word), f"relaying click on {click.approval_id}"):
                return "unknown"
            async with asyncio.timeout(RELAY_SECONDS):
                return await answer
        except TimeoutError:
            return "unknown"  # no replica holds it: it ended with a replica that is gone
        finally:
            del self._asked[token]

    async def _listening(self) -> None:
        if self._subscribed:
            return
        async with self._subscribing:
            if self._subscribed:
                return
            try:
                await self._coordination.subscribe(CHANNEL, self._heard)
            except Exception as error:  # asyncpg's or the socket's; tried again next time
                # Clicks on this replica still decide; those relayed here go unanswered.
                log.warning("approvals: not listening to other replicas: %s", error)
                return
            self._subscribed = True

    def _heard(self, message: str) -> None:
        try:
            word = json.loads(message)
            kind = word["kind"]
            if kind == "click":
                self._decide(word["token"], ApprovalClick(**word["click"]))
            elif kind == "result":
                self._answered(word["token"], word["result"])
            elif kind == "withdraw":
                self._approvals.withdraw(ConversationKey(*word["key"]), str(word["by"]))
        except (ValueError, TypeError, KeyError) as error:
            log.warning("approvals: a message from another replica was not understood: %s", error)

    def _decide(self, token: str, click: ApprovalClick) -> None:
        if not self._approvals.knows(click.approval_id):
            return  # another replica's request, or one nobody holds: its holder answers
        result = self._approvals.click(click)
        log.info(
            "approval %s in %s:%s/%s (relayed): %s by %s",
            *(click.approval_id, click.platform, click.workspace, click.channel),
            result, click.user_id,
        )  # fmt: skip
        word = json.dumps({"kind": "result", "token": token, "result": result})
        task = asyncio.create_task(self._answer(word, click.approval_id))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer(self, word: str, approval_id: str) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(RELAY_SECONDS):
                await self._say(word, f"answering a relayed click on {approval_id}")

    def _answered(self, token: str, result: Any) -> None:
        answer = self._asked.get(token)
        if answer is None or answer.done():
            return  # another replica's click, or one answered (or given up on) already
        if result not in _RESULTS:
            raise ValueError(f"no such approval result: {result!r}")
        answer.set_result(result)

    async def _say(self, word: str, action: str) -> bool:
        """Publishes to the other replicas; False (logged) when the database refused."""
        try:
            await self._coordination.publish(CHANNEL, word)
        except Exception as error:  # asyncpg's or the socket's: a click must get an answer
            log.warning("approvals: %s failed: %s", action, error)
            return False
        return True


def _key_fields(key: ConversationKey) -> tuple[str, str, str, str]:
    return (key.platform, key.workspace, key.channel, key.thread)
