"""The config models for providers, personas, overrides, storage and limits."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from core.config.fields import Frozen, HttpUrl
from core.config.operations import ModerationConfig
from core.config.sampling import StopStrings
from core.config.secrets import SecretRef
from core.config.storage_url import SCHEMES, shown
from core.config.tools import ToolPattern

ReasoningEffort = Literal["minimal", "low", "medium", "high"]
DEFAULT_STORAGE_PATH = Path("data/parley.db")


ProviderType = Literal["openai", "llamacpp"]
LOCAL_ONLY_KEYS = ("model_path", "context_size", "threads", "parallel")
REMOTE_ONLY_KEYS = ("base_url", "api_key")


class ProviderConfig(Frozen):
    """Where a persona's model runs.

    `openai`: any OpenAI-compatible endpoint; `base_url` None means OpenAI's own.
    `llamacpp`: llama.cpp's server started inside Parley on a GGUF file (`model_path`, or the
    bundled SmolLM2 when omitted), spoken to over loopback like any other endpoint.
    """

    name: str
    type: ProviderType = "openai"
    base_url: HttpUrl | None = None
    api_key: SecretRef | None = None
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    model_path: Path | None = None
    context_size: int = Field(default=4096, ge=256)  # tokens per parallel slot
    threads: int | None = Field(default=None, ge=1)  # None: every core
    parallel: int = Field(default=1, ge=1, le=16)  # conversations generated at once

    @field_validator("model_path")
    @classmethod
    def _resolved(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)


class Example(Frozen):
    """One few-shot exchange placed before the conversation."""

    user: str
    assistant: str


class PersonaConfig(Frozen):
    """Who the bot is: its prompt, model and sampling settings."""

    name: str
    system_prompt: str
    model: str = Field(min_length=1)
    provider: str = "openai"
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    # Unset sampling settings are not sent, so the provider's own defaults apply.
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    stop: StopStrings = ()
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    repeat_penalty: float | None = Field(default=None, gt=0, le=2)  # llamacpp providers only
    max_tokens: int = Field(default=1024, ge=1)
    context_tokens: int = Field(default=16000, ge=2)
    reasoning_effort: ReasoningEffort | None = None
    examples: tuple[Example, ...] = ()
    vision: bool = False
    moderation: ModerationConfig | None = None  # None: no moderation calls
    # Tools this persona may call, as "server.tool" or "server.*" (servers under tools:).
    tools: tuple[ToolPattern, ...] = ()


class Override(Frozen):
    """Changes the persona or the prompt for one workspace or channel."""

    persona: str | None = None
    system_prompt: str | None = None
    # Replaces the persona's tool list here: narrower, wider, or [] for none.
    tools: tuple[ToolPattern, ...] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Override:
        if self.persona is None and self.system_prompt is None and self.tools is None:
            raise PydanticCustomError(
                "empty_override", "an override needs persona, system_prompt or tools"
            )
        return self


class StorageConfig(Frozen):
    """Where the conversation database lives (`path` is always absolute) and for how long.

    Retention is in days; None keeps forever. Usage rows hold no content, so they may be
    kept longer for accounting.
    """

    path: Path = Field(default=DEFAULT_STORAGE_PATH, validate_default=True)
    # PostgreSQL, shared by every replica: when set, `path` is not used.
    url: str | None = None
    # Connections each replica keeps to PostgreSQL for its turns (one more holds its locks).
    pool_min: int = Field(default=2, ge=1, le=100)
    pool_max: int = Field(default=10, ge=1, le=100)
    # False matches the SQLite file's synchronous=NORMAL: a killed Parley loses nothing, a
    # crash of PostgreSQL or its machine may lose the last fraction of a second of commits
    # (the database stays consistent). True waits for the disk on every commit.
    synchronous_commit: bool = False
    retention_days: int | None = Field(default=90, ge=1)
    usage_retention_days: int | None = Field(default=400, ge=1)

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve(value, info)

    @field_validator("url")
    @classmethod
    def _postgres(cls, value: str | None) -> str | None:
        if not value:
            return None  # `url: ${PARLEY_DATABASE_URL:-}` left empty: the SQLite file
        if not value.startswith(SCHEMES):
            raise PydanticCustomError(
                "storage_url", "must be a PostgreSQL URL: postgresql://USER@HOST:PORT/DATABASE"
            )
        return value

    @model_validator(mode="after")
    def _pool(self) -> StorageConfig:
        if self.pool_min > self.pool_max:
            raise PydanticCustomError("storage_pool", "pool_min must not exceed pool_max")
        return self

    def describe(self) -> str:
        """Where the conversations live, as logs and `parley check` show it."""
        return shown(self.url) if self.url is not None else str(self.path)


def _resolve(value: Path, info: ValidationInfo) -> Path:
    # Relative paths follow the config file, not whatever directory Parley started in.
    context = info.context if isinstance(info.context, dict) else {}
    base = context.get("base_dir")
    path = value.expanduser()
    if path.is_absolute():
        return path
    return Path(base) / path if base is not None else path.absolute()


class PriceConfig(Frozen):
    """What a model costs, in your currency per million tokens; prices change, so they live
    in the config rather than in Parley."""

    input: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)  # None: same as input
    output: float = Field(ge=0)


class LimitsConfig(Frozen):
    """How much of the outside world goes into one request."""

    attachment_chars: int = Field(default=20000, ge=0)
    history_messages: int = Field(default=200, ge=1)
    file_bytes: int = Field(default=10_000_000, ge=0)  # larger shared files are not downloaded
    seed_messages: int = Field(default=50, ge=0)  # read once from a thread Parley joins late
    # A shared file that has not arrived by then is left out, so it cannot hold up the
    # thread (turns in one thread are answered in order).
    download_seconds: float = Field(default=30.0, gt=0)
    # A turn's deadlines, kept whatever the stream sends (keep-alives and empty chunks reset
    # the provider's read timeout, so only these end a stream that never finishes). 90 s to
    # the first visible word leaves room for a hidden <think> phase and one retry; 300 s for
    # the whole reply is 9,000+ tokens at a slow 30 tokens/s, far past the default max_tokens,
    # and about as long as anyone waits in a chat thread.
    first_text_seconds: float = Field(default=90.0, gt=0)
    reply_seconds: float = Field(default=300.0, gt=0)
    # The most characters one reply shows, whatever a persona's max_tokens: 40,000 is about
    # 10,000 tokens of English, longer than anyone reads in chat, and bounds the platform
    # messages of one reply (about 20 on Discord's 2,000 a message, 10 on Slack).
    reply_chars: int = Field(default=40_000, ge=1)
    # How long `parley run`, asked to stop, lets replies in flight finish before it cuts them.
    # 8 s leaves 2 s of `docker stop`'s default 10 s to close the connections; raise it
    # together with `docker stop -t` or compose's stop_grace_period.
    shutdown_seconds: float = Field(default=8.0, ge=0)
    # Model calls that may ask for tools, per turn; past it the model answers without tools.
    tool_rounds: int = Field(default=6, ge=1, le=50)
    # Characters of one tool result put before the model; the rest is cut with a note.
    tool_result_chars: int = Field(default=20_000, ge=100)
    # How long Approve / Deny buttons wait before the request counts as denied.
    approval_seconds: float = Field(default=600.0, gt=0)
    # A turn that uses tools, rounds, calls and approvals together; reply_seconds still
    # bounds each model round.
    tool_turn_seconds: float = Field(default=900.0, gt=0)
