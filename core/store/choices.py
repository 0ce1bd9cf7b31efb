"""Personas picked in chat for a channel or a thread, held in memory and written through."""

from __future__ import annotations

from core.store import queries as q
from core.store.records import key_params
from core.store.sql import Conn
from core.types import ConversationKey

WHOLE_CHANNEL = ""  # the thread column of a choice that covers a whole channel


class PersonaChoices:
    """Few rows, consulted on every turn: reading them must cost no query."""

    def __init__(self) -> None:
        self._chosen: dict[tuple[str, ...], str] = {}

    def chosen(self, bot: str, key: ConversationKey) -> str | None:
        place = key_params(key)
        thread = self._chosen.get((bot, *place))
        return thread or self._chosen.get((bot, *place[:3], WHOLE_CHANNEL))

    async def load(self, conn: Conn) -> None:
        rows = await conn.fetch(q.ALL_PERSONA_CHOICES_SQL)
        self._chosen = {tuple(row[:5]): str(row[5]) for row in rows}

    async def choose(
        self,
        conn: Conn,
        bot: str,
        key: ConversationKey,
        persona: str | None,
        *,
        whole_channel: bool,
        chosen_by: str,
        now: str,
    ) -> None:
        where = (bot, *key_params(key)[:3], WHOLE_CHANNEL if whole_channel else key.thread)
        if persona is None:
            await conn.run(q.CLEAR_PERSONA_CHOICE_SQL, where)
            self._chosen.pop(where, None)
        else:
            await conn.run(q.SET_PERSONA_CHOICE_SQL, (*where, persona, chosen_by, now))
            self._chosen[where] = persona
