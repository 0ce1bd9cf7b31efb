"""Parley's one error hierarchy; library exceptions are translated into these where they arise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class ParleyError(Exception):
    """Base of every error Parley raises on purpose.

    `user_message` is short and safe to show in a chat thread: no secrets, no stack.
    """

    user_message = "Something went wrong on my side. Please try again."

    def __init__(self, detail: str = "", *, user_message: str | None = None) -> None:
        super().__init__(detail or self.user_message)
        if user_message is not None:
            self.user_message = user_message


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a config file, located as precisely as the file allows."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(ParleyError):
    """The config could not be used; `issues` lists every problem found, not just the first."""

    user_message = "Parley's configuration has a problem; an admin needs to look at the logs."

    def __init__(self, issues: list[ConfigIssue] | tuple[ConfigIssue, ...]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class ConfigFileMissing(ConfigError):
    """No file where the config was looked for; `looked_at` is that place, absolute."""

    def __init__(self, given: Path) -> None:
        self.looked_at = given.absolute()
        super().__init__([ConfigIssue(str(given), None, "", f"no file at {self.looked_at}")])


class StoreError(ParleyError):
    user_message = "I couldn't reach my memory just now. Please try again in a moment."


class ModelError(ParleyError):
    """The model call failed; subclasses say why in words a chat user understands."""

    user_message = "The model failed to answer. Please try again."
    retryable = False


class RateLimited(ModelError):
    user_message = "The model is rate-limited right now. Please try again in a minute."
    retryable = True


class ProviderUnavailable(ModelError):
    user_message = "The model provider is unavailable right now. Please try again shortly."
    retryable = True


class ModelTimeout(ModelError):
    user_message = "The model took too long to answer. Please try again."
    retryable = True


class ContextTooLong(ModelError):
    user_message = (
        "This conversation is too long for the model. Start a new thread or reset this one."
    )


class BadCredentials(ModelError):
    user_message = "The model provider rejected Parley's credentials; an admin needs to fix them."


class ModelRequestRejected(ModelError):
    """Any other 4xx: a wrong model name, an unsupported parameter."""

    user_message = "The model provider rejected the request; an admin should check the logs."


class StreamInterrupted(ModelError):
    """The stream broke after text had reached the user; it is not re-run (no duplicates)."""

    user_message = "The reply was cut off by the model provider. Ask again to get the rest."


class BudgetExhausted(ParleyError):
    """A spending cap is reached: the turn gets this note and no model call."""

    user_message = "Parley's allowance here is used up for now. Please try again later."


class NoModerationEndpoint(ModelError):
    """The provider has no moderation endpoint (it answered 404): moderation is skipped."""


class ContentFlagged(ParleyError):
    """Moderation flagged the user's message (`input`) or the model's reply (`output`)."""

    def __init__(self, direction: str, categories: tuple[str, ...]) -> None:
        self.direction = direction
        self.categories = categories
        named = ", ".join(categories) or "unspecified"
        super().__init__(
            f"{direction} flagged by moderation ({named})",
            user_message=_FLAGGED_NOTES.get(direction, _FLAGGED_NOTES["input"]),
        )


_FLAGGED_NOTES = {
    "input": "I can't answer that: the message was flagged by content moderation.",
    "output": "I stopped this reply: it was flagged by content moderation.",
}


class ShutDown(ParleyError):
    """Parley is stopping: a turn still running when its wait ran out is cut here."""

    user_message = "Parley is restarting; this reply was cut short. Ask again in a moment."


class StoppedByUser(ParleyError):
    """The person asked to stop this reply (Ctrl-C in the terminal): what was shown is kept."""

    user_message = "Stopped."


class PlatformUnreachable(ParleyError):
    """A chat platform answered a bot's start-up with a server error: worth trying again."""


class ReplyTimedOut(ModelError):
    """The turn's first-text or whole-reply deadline passed, whatever the stream still sent;
    what was shown is kept, and the stream is not re-run (no duplicates)."""

    user_message = "The model took too long, so I stopped this reply. Please try again."


class ReplyCut(ModelError):
    """The provider sent more than Parley accepts for one reply (its length cap, or one
    oversized stream line): reading stopped there and the stream was closed."""

    user_message = "The reply was cut: the model sent more than this bot allows for one reply."


class NoAnswerAfterTools(ModelError):
    """The model used its tools, then ended a round without a word: nothing answers the user,
    and an empty reply would look like a hang."""

    user_message = "The model used its tools but gave no answer. Please try again."
