"""The platform registry names each adapter by module; the names resolve to the adapters."""

from __future__ import annotations

from bots.discord.bot import DiscordBot
from bots.platforms import ADAPTERS, AdapterFactory, adapter_factory
from bots.slack.bot import SlackBot

# Typed: mypy checks here that each adapter class fits the factory protocol.
EXPECTED: dict[str, AdapterFactory] = {"slack": SlackBot, "discord": DiscordBot}


def test_each_named_adapter_is_the_platforms_class() -> None:
    assert set(ADAPTERS) == set(EXPECTED)
    for platform, factory in EXPECTED.items():
        assert adapter_factory(platform) is factory
