"""Slack's native streaming in the fake: chat.startStream, chat.appendStream, chat.stopStream.

Checked as Slack documents them: a stream is a thread reply (`thread_ts`), one outside a DM
names its recipient (`recipient_user_id`, `recipient_team_id`), `markdown_text` holds at
most 12,000 characters a call, and only a message still streaming takes more. Slack ends a
stream after about five minutes; here a test ends one when it says so (`expire`).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.slack_api import MARKDOWN_TEXT_LIMIT, Body, Params, SlackError, WebApi
from tests.fakes.slack_state import FakeMessage, Workspace

__all__ = ["MARKDOWN_TEXT_LIMIT", "StreamMethods"]

STREAMING, STOPPED, EXPIRED = "streaming", "stopped", "expired"


def _invalid(field: str) -> SlackError:
    # Slack's answer to a missing required argument names it in response_metadata.
    messages = [f"[ERROR] missing required field: {field}"]
    return SlackError("invalid_arguments", response_metadata={"messages": messages})


def _markdown(params: Params, *, required: bool) -> str:
    value = params.get("markdown_text")
    text = "" if value is None else str(value)
    if required and not text and not params.get("chunks"):
        raise _invalid("markdown_text")
    if len(text) > MARKDOWN_TEXT_LIMIT:
        raise SlackError("msg_too_long")
    return text


class StreamMethods:
    """The three methods over the workspace's history; `states` is each stream's state by
    (channel, ts), `started` lists the streams in the order they began, and `shown` every
    text a streamed message showed, after each call (what a reader may have seen)."""

    def __init__(self, workspace: Workspace, api: WebApi) -> None:
        self._workspace = workspace
        self._api = api
        self.states: dict[tuple[str, str], str] = {}
        self.started: list[tuple[str, str]] = []
        self.shown: list[str] = []
        self.methods = {
            "chat.startStream": self._start,
            "chat.appendStream": self._append,
            "chat.stopStream": self._stop,
        }

    def expire(self, channel: str, ts: str) -> None:
        """What Slack does to a stream left open too long: it takes no more text."""
        if self.states.get((channel, ts)) != STREAMING:
            raise AssertionError(f"no stream is open at {channel}/{ts}")
        self.states[(channel, ts)] = EXPIRED

    def _grow(self, message: FakeMessage, text: str) -> None:
        message.text += text
        message.markdown_text = (message.markdown_text or "") + text
        self.shown.append(message.text)

    def _start(self, params: Params) -> Body:
        channel = _text(params, "channel")
        if not channel or channel not in self._workspace.channels:
            raise SlackError("channel_not_found")
        thread_ts = _text(params, "thread_ts")
        if not thread_ts:
            raise _invalid("thread_ts")
        if not channel.startswith("D"):  # Slack's ids for direct message channels
            if not _text(params, "recipient_team_id"):
                raise SlackError("missing_recipient_team_id")
            if not _text(params, "recipient_user_id"):
                raise SlackError("missing_recipient_user_id")
        text = _markdown(params, required=False)
        identity = self._workspace.identity
        message = FakeMessage(
            channel=channel,
            ts=self._workspace.next_ts(),
            user=identity.bot_user_id,
            text=text,
            markdown_text=text,
            thread_ts=thread_ts,
            bot_id=identity.bot_id,
        )
        self._workspace.store(message)
        self.shown.append(message.text)
        self.states[(channel, message.ts)] = STREAMING
        self.started.append((channel, message.ts))
        return {"ok": True, "channel": channel, "ts": message.ts}

    def _streaming(self, params: Params) -> FakeMessage:
        channel, ts = _text(params, "channel"), _text(params, "ts")
        if not channel:
            raise SlackError("channel_not_found")
        if not ts:
            raise _invalid("ts")
        message = self._workspace.find(channel, ts)
        if message is None:
            raise SlackError("message_not_found")
        if self.states.get((channel, ts)) != STREAMING:
            raise SlackError("message_not_in_streaming_state")
        return message

    def _append(self, params: Params) -> Body:
        text = _markdown(params, required=True)
        message = self._streaming(params)
        self._grow(message, text)
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _stop(self, params: Params) -> Body:
        text = _markdown(params, required=False)
        blocks = _blocks(params)
        message = self._streaming(params)
        self._grow(message, text)
        if blocks is not None:
            message.blocks = blocks
        metadata = params.get("metadata")
        if isinstance(metadata, dict):
            message.metadata = metadata
        self.states[(message.channel, message.ts)] = STOPPED
        body: Body = {"ok": True, "channel": message.channel, "ts": message.ts}
        body["message"] = self._api.render(message)
        return body


def _text(params: Params, name: str) -> str:
    value = params.get(name)
    return "" if value is None else str(value)


def _blocks(params: Params) -> list[Any] | None:
    value = params.get("blocks")
    if value is not None and not isinstance(value, list):
        raise SlackError("invalid_blocks_format")
    return value
