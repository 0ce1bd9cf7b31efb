"""The shipped Slack manifest gives a new app Slack's agent experience and what Parley uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MANIFEST = Path(__file__).parents[2] / "bots" / "slack" / "manifest.yaml"


def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return loaded


def test_the_manifest_asks_for_the_agent_view_not_the_retired_pane() -> None:
    features = manifest()["features"]
    assert "assistant_view" not in features
    agent = features["agent_view"]
    assert agent["agent_description"].strip()
    prompts = agent["suggested_prompts"]
    assert 0 < len(prompts) <= 4  # Slack shows at most four
    assert all(prompt["title"] and prompt["message"] for prompt in prompts)
    assert features["app_home"]["messages_tab_enabled"] is True


def test_the_manifest_subscribes_to_every_event_parley_answers() -> None:
    settings = manifest()["settings"]
    events = set(settings["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.im", "app_home_opened", "app_context_changed"} <= events
    assert {"message.channels", "message.groups"} <= events  # follow-ups in threads
    assert settings["interactivity"]["is_enabled"] is True  # the feedback clicks
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    assert {"assistant:write", "im:history", "chat:write", "app_mentions:read"} <= scopes
