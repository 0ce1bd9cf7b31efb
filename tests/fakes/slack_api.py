"""The Web API methods a fake Slack answers, as functions of a request's merged parameters."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from tests.fakes.slack_blocks import InvalidBlocks, check_blocks, markdown_of
from tests.fakes.slack_state import FakeMessage, Workspace, ts_key

Params = dict[str, Any]
Body = dict[str, Any]
Method = Callable[[Params], Body]
# markdown_text holds at most 12,000 characters a call, posted, updated or streamed.
MARKDOWN_TEXT_LIMIT = 12_000

# The scope a missing_scope error names for each method, as Slack reports it in "needed".
SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.startStream": "chat:write",
    "chat.appendStream": "chat:write",
    "chat.stopStream": "chat:write",
    "users.info": "users:read",
    "conversations.info": "channels:read",
    "conversations.replies": "channels:history",
    "conversations.history": "channels:history",
    "team.info": "team:read",
    "assistant.threads.setStatus": "assistant:write",
    "assistant.threads.setSuggestedPrompts": "assistant:write",
    "assistant.threads.setTitle": "assistant:write",
}
_DEFAULT_REPLIES_LIMIT = 1000


class SlackError(Exception):
    """A Slack-level failure, answered with HTTP 200 and {"ok": false, "error": ...}."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.body: Body = {"ok": False, "error": error, **extra}


def _required(params: Params, name: str, error: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise SlackError(error)
    return str(value)


def _optional_str(params: Params, name: str) -> str | None:
    value = params.get(name)
    return None if value is None or value == "" else str(value)


def _blocks(params: Params) -> list[Any] | None:
    """Blocks arrive as a list in JSON bodies and as a JSON string in form bodies."""
    value = params.get("blocks")
    if isinstance(value, str):
        value = json.loads(value) if value else None
    if value is not None and not isinstance(value, list):
        raise SlackError("invalid_blocks_format")
    return value


def content(params: Params) -> tuple[str, str | None, list[Any] | None]:
    """The text, markdown_text and blocks of a post or update, checked as Slack does."""
    text, markdown = _optional_str(params, "text"), _optional_str(params, "markdown_text")
    blocks = _blocks(params)
    if markdown is not None and (text is not None or blocks):
        raise SlackError("markdown_text_conflict")
    if text is None and markdown is None and not blocks:
        raise SlackError("no_text")
    if markdown is not None and len(markdown) > MARKDOWN_TEXT_LIMIT:
        raise SlackError("msg_too_long")
    if blocks:
        try:
            check_blocks(blocks)
        except InvalidBlocks as error:
            raise SlackError("invalid_blocks", errors=[str(error)]) from error
        # A reply sent as markdown blocks shows as markdown_text would: tests read either.
        markdown = markdown_of(blocks)
    return text or markdown or "", markdown, blocks


def _metadata(params: Params) -> dict[str, Any] | None:
    value = params.get("metadata")
    if isinstance(value, str):
        value = json.loads(value) if value else None
    if value is not None and not (isinstance(value, dict) and "event_type" in value):
        raise SlackError("invalid_metadata_format")
    return value


def _cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _cursor_ts(cursor: str) -> int:
    try:
        prefix, _, ts = base64.b64decode(cursor).decode().partition(":")
        if prefix != "next_ts":
            raise ValueError(prefix)
        return ts_key(ts)
    except ValueError as error:
        raise SlackError("invalid_cursor") from error


class WebApi:
    """Answers each method from the workspace; `methods` maps Slack method names to handlers."""

    def __init__(self, workspace: Workspace, socket_url: Callable[[], str]) -> None:
        self._workspace = workspace
        self._identity = workspace.identity
        self._socket_url = socket_url
        self.methods: dict[str, Method] = {
            "auth.test": self._auth_test,
            "apps.connections.open": lambda _: {"ok": True, "url": self._socket_url()},
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.replies": self._replies,
            "conversations.history": self._history,
            "team.info": self._team_info,
            "assistant.threads.setStatus": self._set_status,
            "assistant.threads.setSuggestedPrompts": self._suggested_prompts,
            "assistant.threads.setTitle": self._assistant_only,
        }

    def render(self, message: FakeMessage, *, metadata: bool = False) -> Body:
        """A message as Slack's Web API shows it, with thread fields from the history."""
        body: Body = {
            "type": "message",
            "ts": message.ts,
            "user": message.user,
            "text": message.text,
            "team": self._identity.team_id,
        }
        if message.bot_id is not None:
            body.update(bot_id=message.bot_id, app_id=self._identity.app_id)
        if message.blocks is not None:
            body["blocks"] = message.blocks
        if metadata and message.metadata is not None:
            body["metadata"] = message.metadata
        if message.edits:
            body["edited"] = {"user": message.user, "ts": message.ts}
        thread = self._workspace.thread(message.channel, message.thread_ts or message.ts)
        if message.thread_ts not in (None, message.ts):
            body["thread_ts"] = message.thread_ts
            body["parent_user_id"] = thread[0].user if thread else message.user
        elif len(thread) > 1:
            replies = thread[1:]
            users = sorted({reply.user for reply in replies})
            body.update(
                thread_ts=message.ts,
                reply_count=len(replies),
                reply_users=users,
                reply_users_count=len(users),
                latest_reply=replies[-1].ts,
            )
        return body

    def _auth_test(self, params: Params) -> Body:
        identity = self._identity
        return {
            "ok": True,
            "url": f"https://{identity.domain}.slack.com/",
            "team": identity.team_name,
            "user": identity.bot_name,
            "team_id": identity.team_id,
            "user_id": identity.bot_user_id,
            "bot_id": identity.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, params: Params) -> Body:
        channel = _required(params, "channel", "channel_not_found")
        text, markdown, blocks = content(params)
        message = FakeMessage(
            channel=channel,
            ts=self._workspace.next_ts(),
            user=self._identity.bot_user_id,
            text=text,
            markdown_text=markdown,
            thread_ts=_optional_str(params, "thread_ts"),
            blocks=blocks,
            bot_id=self._identity.bot_id,
            metadata=_metadata(params),
        )
        self._workspace.store(message)
        return {"ok": True, "channel": channel, "ts": message.ts, "message": self.render(message)}

    def _own_message(self, params: Params, refusal: str) -> FakeMessage:
        channel = _required(params, "channel", "channel_not_found")
        message = self._workspace.find(channel, _required(params, "ts", "message_not_found"))
        if message is None:
            raise SlackError("message_not_found")
        if message.user != self._identity.bot_user_id:
            raise SlackError(refusal)
        return message

    def _update(self, params: Params) -> Body:
        message = self._own_message(params, "cant_update_message")
        message.text, message.markdown_text, message.blocks = content(params)
        message.edits += 1
        return {
            "ok": True,
            "channel": message.channel,
            "ts": message.ts,
            "text": message.text,
            "message": self.render(message),
        }

    def _delete(self, params: Params) -> Body:
        message = self._own_message(params, "cant_delete_message")
        self._workspace.remove(message)
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _users_info(self, params: Params) -> Body:
        user = self._workspace.users.get(_required(params, "user", "user_not_found"))
        if user is None:
            raise SlackError("user_not_found")
        return {"ok": True, "user": user}

    def _conversations_info(self, params: Params) -> Body:
        channel_id = _required(params, "channel", "channel_not_found")
        channel = self._workspace.channels.get(channel_id)
        if channel is None:
            raise SlackError("channel_not_found")
        return {"ok": True, "channel": channel}

    def _team_info(self, params: Params) -> Body:
        identity = self._identity
        team = {
            "id": identity.team_id,
            "name": identity.team_name,
            "domain": identity.domain,
            "email_domain": "",
            "icon": {"image_default": True},
        }
        return {"ok": True, "team": team}

    def _replies(self, params: Params) -> Body:
        channel = _required(params, "channel", "channel_not_found")
        thread = self._workspace.thread(channel, _required(params, "ts", "thread_not_found"))
        if not thread:
            raise SlackError("thread_not_found")
        limit = int(params.get("limit") or _DEFAULT_REPLIES_LIMIT)
        cursor = _optional_str(params, "cursor")
        if cursor is not None:
            start = _cursor_ts(cursor)
            thread = [message for message in thread if ts_key(message.ts) >= start]
        page, rest = thread[:limit], thread[limit:]
        metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        return {
            "ok": True,
            "messages": [self.render(message, metadata=metadata) for message in page],
            "has_more": bool(rest),
            "response_metadata": {"next_cursor": _cursor(rest[0].ts) if rest else ""},
        }

    def _history(self, params: Params) -> Body:
        """Top-level messages, newest first (no paging: the fake's channels are short)."""
        channel = _required(params, "channel", "channel_not_found")
        if channel not in self._workspace.channels:
            raise SlackError("channel_not_found")
        top = [m for m in self._workspace.history(channel) if m.thread_ts in (None, m.ts)]
        limit = int(params.get("limit") or _DEFAULT_REPLIES_LIMIT)
        metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        newest = list(reversed(top))[:limit]
        return {
            "ok": True,
            "messages": [self.render(message, metadata=metadata) for message in newest],
            "has_more": len(top) > limit,
        }

    def _assistant_only(self, params: Params) -> Body:
        """Titles and prompts exist only in threads opened in the assistant pane."""
        channel = _required(params, "channel_id", "channel_not_found")
        thread = _required(params, "thread_ts", "invalid_thread_ts")
        if (channel, thread) not in self._workspace.assistant_threads:
            raise SlackError("invalid_thread_ts")
        return {"ok": True}

    def _suggested_prompts(self, params: Params) -> Body:
        """Up to four prompts, each a title and a message. In the agent view they sit atop
        the app's DM, set without thread_ts; with one, Slack answers ok and shows nothing."""
        prompts = params.get("prompts")
        if isinstance(prompts, str):
            prompts = json.loads(prompts)
        if not isinstance(prompts, list) or not 0 < len(prompts) <= 4:
            raise SlackError("invalid_arguments")
        for prompt in prompts:
            if not isinstance(prompt, dict) or not prompt.get("title") or not prompt.get("message"):
                raise SlackError("invalid_arguments")
        if self._workspace.app_view == "assistant":
            return self._assistant_only(params)
        channel = _required(params, "channel_id", "channel_not_found")
        if not params.get("thread_ts"):
            self._workspace.suggested_prompts[channel] = prompts
        return {"ok": True}

    def _set_status(self, params: Params) -> Body:
        """Since 2026-03 a channel-based app may show a status in channel threads, but a DM
        thread still needs to be an assistant one."""
        channel = _required(params, "channel_id", "channel_not_found")
        if channel.startswith("D") and self._workspace.app_view == "assistant":
            return self._assistant_only(params)  # D…: Slack's ids for direct message channels
        _required(params, "thread_ts", "invalid_thread_ts")
        return {"ok": True}
