"""The console's bot config: a chat in the terminal, with no ids to check."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, model_validator

from core.config import BotConfig


class ConsoleBotConfig(BotConfig):
    """A chat in the terminal; `user_name` is the person typing."""

    platform: Literal["console"]
    user_name: str = Field(default="you", min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _login_user(cls, data: Any, info: ValidationInfo) -> Any:
        # Unless the config names someone, the person typing is whoever is logged in; the
        # loader passes its environment in the context so tests can choose it.
        context = info.context if isinstance(info.context, dict) else {}
        env = context.get("env", {})
        user = env.get("USER") or env.get("USERNAME")
        if isinstance(data, dict) and "user_name" not in data and user:
            return {**data, "user_name": user}
        return data
