"""The config models for running Parley: budgets, moderation, monitoring and logging."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from core.config.fields import Frozen

BudgetScope = Literal["bot", "workspace", "user"]
BudgetPeriod = Literal["day", "month"]


class BudgetConfig(Frozen):
    """A spending cap: each bot, workspace or user (`per`) may spend this much per period.

    `tokens` counts prompt plus completion tokens; `cost` uses `prices`. Periods are UTC
    calendar days and months. When either cap is reached, turns get a short note and no
    model call until the period turns over.
    """

    per: BudgetScope
    bot: str | None = None  # only this bot's turns; None: every bot's
    period: BudgetPeriod = "day"
    tokens: int | None = Field(default=None, ge=1)
    cost: float | None = Field(default=None, gt=0)
    admins_exempt: bool = True

    @model_validator(mode="after")
    def _has_a_cap(self) -> BudgetConfig:
        if self.tokens is None and self.cost is None:
            raise PydanticCustomError("budget_cap", "a budget needs tokens, cost or both")
        return self


class ModerationConfig(Frozen):
    """Checks a persona's input and/or output with an OpenAI-style moderation endpoint."""

    input: bool = True  # flagged user messages get a short refusal and no model call
    output: bool = False  # flagged replies are withheld with a short note
    provider: str | None = None  # None: the persona's own provider
    model: str = Field(default="omni-moderation-latest", min_length=1)


class MonitoringConfig(Frozen):
    """`parley run`'s HTTP endpoint: /healthz and Prometheus /metrics, loopback by default."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)  # 0: any free port (tests)


class LoggingConfig(Frozen):
    """How `parley run` logs; `--log-level` on the command line wins over `level`."""

    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"
