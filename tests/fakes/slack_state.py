"""What a fake Slack workspace holds: identity, users, channels, files and messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

# The first ts the fake assigns is 1700000100.000100; later ones grow by 100 µs.
_FIRST_TS_MICROS = 1_700_000_100_000_100
_TS_STEP = 100


def ts_key(ts: str) -> int:
    """A Slack ts ("1700000100.000200") as microseconds, for ordering."""
    seconds, _, micros = ts.partition(".")
    return int(seconds) * 1_000_000 + int(micros.ljust(6, "0")[:6])


@dataclass(frozen=True)
class SlackIdentity:
    """Who the fake workspace and its one installed bot are."""

    bot_token: str = "xoxb-test"
    app_token: str = "xapp-test"
    team_id: str = "T0ACME"
    team_name: str = "Acme"
    domain: str = "acme"
    bot_user_id: str = "UBOT"
    bot_id: str = "BBOT"
    bot_name: str = "parley"
    app_id: str = "A0PARLEY"


@dataclass(frozen=True)
class ApiCall:
    """One Web API request; `params` merges query string, form and JSON body, minus `token`."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float


@dataclass(frozen=True)
class Download:
    """One GET of a file URL, successful (200) or refused (403/404)."""

    file_id: str
    name: str
    token: str | None
    status: int
    at: float


@dataclass
class FakeMessage:
    """A message in the fake's history; `edits` counts successful chat.update calls."""

    channel: str
    ts: str
    user: str
    text: str
    markdown_text: str | None = None
    thread_ts: str | None = None
    blocks: list[Any] | None = None
    bot_id: str | None = None
    edits: int = 0
    metadata: dict[str, Any] | None = None  # Slack shows it only to include_all_metadata


class Workspace:
    """Users, channels, files and per-channel message history, kept in ts order."""

    def __init__(self, identity: SlackIdentity) -> None:
        self.identity = identity
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.files: dict[str, tuple[dict[str, Any], bytes]] = {}
        # (channel, thread_ts) of every thread opened in Slack's assistant pane.
        self.assistant_threads: set[tuple[str, str]] = set()
        # "agent": the app's manifest has agent_view (Slack's agent messaging experience,
        # every app created since 2026-06-30); "assistant": the older assistant_view pane.
        self.app_view = "agent"
        # The prompts shown atop each app DM (agent view), as last set.
        self.suggested_prompts: dict[str, list[dict[str, str]]] = {}
        self._messages: dict[str, list[FakeMessage]] = {}
        self._last_ts = _FIRST_TS_MICROS - _TS_STEP

    def next_ts(self) -> str:
        """A fresh ts later than every message stored so far."""
        self._last_ts += _TS_STEP
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    def store(self, message: FakeMessage) -> FakeMessage:
        self._last_ts = max(self._last_ts, ts_key(message.ts))
        history = self._messages.setdefault(message.channel, [])
        history.append(message)
        history.sort(key=lambda stored: ts_key(stored.ts))
        return message

    def find(self, channel: str, ts: str) -> FakeMessage | None:
        for message in self._messages.get(channel, []):
            if message.ts == ts:
                return message
        return None

    def remove(self, message: FakeMessage) -> None:
        self._messages[message.channel].remove(message)

    def history(self, channel: str) -> list[FakeMessage]:
        return list(self._messages.get(channel, []))

    def thread(self, channel: str, thread_ts: str) -> list[FakeMessage]:
        """The root (whose ts is `thread_ts`) and its replies, oldest first."""
        return [
            message
            for message in self._messages.get(channel, [])
            if thread_ts in (message.ts, message.thread_ts)
        ]

    def add_user(
        self, user_id: str, display_name: str, real_name: str | None, is_bot: bool
    ) -> dict[str, Any]:
        real = real_name if real_name is not None else display_name
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": self.identity.team_id,
            "name": display_name.lower().replace(" ", "."),
            "deleted": False,
            "real_name": real,
            "tz": "Europe/London",
            "is_bot": is_bot,
            "is_app_user": False,
            "profile": {
                "display_name": display_name,
                "display_name_normalized": display_name,
                "real_name": real,
                "real_name_normalized": real,
                "team": self.identity.team_id,
            },
        }
        self.users[user_id] = user
        return user

    def add_channel(
        self, channel_id: str, name: str, is_im: bool, is_private: bool
    ) -> dict[str, Any]:
        channel: dict[str, Any] = {
            "id": channel_id,
            "created": 1_700_000_000,
            "is_channel": not is_im,
            "is_group": False,
            "is_im": is_im,
            "is_mpim": False,
            "is_private": is_private,
            "is_archived": False,
        }
        if not is_im:
            # Slack gives direct messages no name; an adapter must not expect one.
            channel.update(name=name, name_normalized=name, is_member=True)
        self.channels[channel_id] = channel
        return channel

    def add_file(
        self, file_id: str, name: str, mimetype: str, data: bytes, base_url: str
    ) -> dict[str, Any]:
        url = f"{base_url}files/{file_id}/{quote(name)}"
        extension = name.rpartition(".")[2].lower() if "." in name else "binary"
        file: dict[str, Any] = {
            "id": file_id,
            "created": 1_700_000_000,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": extension,
            "pretty_type": extension.upper(),
            "user": "U0FILEOWNER",
            "size": len(data),
            "mode": "hosted",
            "is_external": False,
            "is_public": True,
            "url_private": url,
            "url_private_download": url,
        }
        self.files[file_id] = (file, data)
        return file
