"""A fake Slack on 127.0.0.1 speaking the real Web API, file download and Socket Mode protocols."""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

from aiohttp import web

from tests.fakes.loopback import Fake, LoopbackServer
from tests.fakes.slack_api import SlackError, WebApi
from tests.fakes.slack_approvals import EphemeralMethods, button_click
from tests.fakes.slack_blocks import feedback_click, interactive_envelope
from tests.fakes.slack_connections import Target
from tests.fakes.slack_events import event_callback, events_api_envelope
from tests.fakes.slack_http import Fault, Faults, auth_error, bearer, fault_response, request_params
from tests.fakes.slack_socket import ACK_WINDOW, SocketModeServer
from tests.fakes.slack_state import (
    ApiCall,
    Download,
    FakeMessage,
    SlackIdentity,
    Workspace,
)
from tests.fakes.slack_streams import StreamMethods
from tests.fakes.waiting import deadline, wait_until

__all__ = ["ApiCall", "Download", "FakeMessage", "FakeSlack", "SlackIdentity", "wait_until"]

_SOCKET_TIMEOUT = 30.0  # a guard only: a loaded machine must never reach it
# chat.update is a Tier 3 method: about 50 calls a minute per workspace, then HTTP 429.
UPDATES_PER_MINUTE = 50
_MINUTE = 60.0


class FakeSlack(Fake):
    """One workspace with one bot: Web API at `api_url`, Socket Mode at /socket, files at /files.

    Every Web API request lands in `calls`; file GETs in `downloads`; Socket Mode acks in
    `acks`. Messages the bot posts are kept so `thread()` and `posted()` can be asserted on.
    What Slack enforces is enforced here too: an envelope not acked within `ack_window` s is
    a violation (the fixture fails the test on it), and chat.update beyond
    `updates_per_minute` is answered 429. None turns either off, for a test about the fake.
    """

    def __init__(
        self,
        identity: SlackIdentity | None = None,
        *,
        ack_window: float | None = ACK_WINDOW,
        updates_per_minute: int | None = UPDATES_PER_MINUTE,
    ) -> None:
        self.identity = identity or SlackIdentity()
        self.workspace = Workspace(self.identity)
        self.workspace.add_user(self.identity.bot_user_id, self.identity.bot_name, None, True)
        self.socket = SocketModeServer(self.identity.app_id, ack_window)
        self.updates_per_minute = updates_per_minute
        self._recent_updates: deque[float] = deque()
        self.api = WebApi(self.workspace, self._socket_url)
        self.streams = StreamMethods(self.workspace, self.api)
        self.api.methods.update(self.streams.methods)
        self.ephemerals = EphemeralMethods(self.workspace)
        self.api.methods.update(self.ephemerals.methods)
        self.calls: list[ApiCall] = []
        self.downloads: list[Download] = []
        self._faults = Faults()
        self._server = LoopbackServer()
        self._port: int | None = None
        self._event_count = 0

    # Identity, under the names tests use.
    @property
    def bot_token(self) -> str:
        return self.identity.bot_token

    @property
    def app_token(self) -> str:
        return self.identity.app_token

    @property
    def team_id(self) -> str:
        return self.identity.team_id

    @property
    def team_name(self) -> str:
        return self.identity.team_name

    @property
    def bot_user_id(self) -> str:
        return self.identity.bot_user_id

    @property
    def bot_id(self) -> str:
        return self.identity.bot_id

    @property
    def app_id(self) -> str:
        return self.identity.app_id

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._port}/"

    @property
    def api_url(self) -> str:
        """For AsyncWebClient(base_url=...): slack_sdk urljoins the method name onto it."""
        return f"{self.base_url}api/"

    @property
    def connections(self) -> int:
        return self.socket.connections

    @property
    def acks(self) -> list[str]:
        return self.socket.acks

    @property
    def violations(self) -> list[str]:
        """Rules of Slack's the bot broke (late acks); a fixture fails the test on any."""
        return self.socket.violations

    @property
    def ack_payloads(self) -> dict[str, dict[str, Any]]:
        """Envelope id to the payload its ack carried (slash commands, options, views)."""
        return self.socket.ack_payloads

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files/{file_id}/{name}", self._download)
        app.router.add_get("/socket", self.socket.handle)
        self._port = await self._server.serve(app)

    async def stop(self) -> None:
        await self.socket.close_all()
        await self._server.close()
        self._port = None

    # Seeding and inspecting the workspace.
    def add_user(
        self, user_id: str, display_name: str, real_name: str | None = None, is_bot: bool = False
    ) -> dict[str, Any]:
        return self.workspace.add_user(user_id, display_name, real_name, is_bot)

    def add_channel(
        self, channel_id: str, name: str, is_im: bool = False, is_private: bool = False
    ) -> dict[str, Any]:
        return self.workspace.add_channel(channel_id, name, is_im, is_private)

    def add_file(self, file_id: str, name: str, mimetype: str, data: bytes) -> dict[str, Any]:
        """Returns the file object to put in an event's "files" list."""
        return self.workspace.add_file(file_id, name, mimetype, data, self.base_url)

    def add_message(
        self, channel: str, ts: str, user: str, text: str, thread_ts: str | None = None
    ) -> FakeMessage:
        """Seeds history written by someone other than the bot."""
        message = FakeMessage(channel=channel, ts=ts, user=user, text=text, thread_ts=thread_ts)
        return self.workspace.store(message)

    def open_assistant_thread(self, channel: str, thread_ts: str) -> None:
        """A thread in Slack's assistant pane: the assistant.threads.* methods work only there."""
        self.workspace.assistant_threads.add((channel, thread_ts))

    def next_ts(self) -> str:
        """A ts later than every stored message, for events the test is about to send."""
        return self.workspace.next_ts()

    def expire_stream(self, channel: str, ts: str) -> None:
        """Ends a native stream as Slack does after about five minutes: appends and stops to
        it are then answered message_not_in_streaming_state."""
        self.streams.expire(channel, ts)

    def thread(self, channel: str, thread_ts: str) -> list[FakeMessage]:
        return self.workspace.thread(channel, thread_ts)

    def posted(self, channel: str) -> list[FakeMessage]:
        history = self.workspace.history(channel)
        return [message for message in history if message.user == self.bot_user_id]

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def reset_calls(self) -> None:
        self.calls.clear()

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: float | None = None,
        times: int = 1,
        drop: bool = False,
        after: bool = False,
    ) -> None:
        """The next `times` calls of `method` fail; status 429 defaults to error "ratelimited".

        drop=True: the connection is closed under the call, with no answer at all.
        after=True: the call takes effect first; only its answer is the fault.
        """
        self._faults.add(method, Fault(error, status, retry_after, times, drop, after))

    def reset_faults(self) -> None:
        """Drops every fault still queued ("Slack is back")."""
        self._faults = Faults()

    # Socket Mode.
    async def wait_connected(
        self,
        timeout: float = 30.0,  # noqa: ASYNC109  (the fake's API; it wraps its own deadline)
        *,
        count: int = 1,
    ) -> None:
        """Until `count` Socket Mode connections are open (several processes of one app)."""
        async with deadline(timeout, f"not {count} Socket Mode client(s) connected"):
            await self.socket.wait_connected(count)

    async def disconnect_client(
        self, reason: str = "refresh_requested", *, which: Target = None
    ) -> None:
        """Sends {"type": "disconnect"} to the newest connection (or `which`); the client
        reconnects through apps.connections.open."""
        async with deadline(_SOCKET_TIMEOUT, "no Socket Mode client to disconnect"):
            await self.socket.disconnect_client(reason, which=which)

    async def drop_client(self, *, which: Target = None) -> None:
        """Closes the newest Socket Mode connection (or `which`) abruptly; the client
        reconnects on its own."""
        async with deadline(_SOCKET_TIMEOUT, "no Socket Mode client to drop"):
            await self.socket.drop_client(which=which)

    async def send_envelope(self, envelope: dict[str, Any], *, to: Target = None) -> None:
        """Sends any raw frame (slash_commands, interactive, ...) without waiting for an ack."""
        async with deadline(_SOCKET_TIMEOUT, "no Socket Mode client connected"):
            await self.socket.send(envelope, to=to)

    async def redeliver(
        self, envelope_id: str, reason: str = "timeout", *, to: Target = None
    ) -> str:
        """Slack's retry of envelope `envelope_id` (same event id, retry_attempt + 1), to
        another connection than the try before unless `to` names one; returned once acked."""
        async with deadline(_SOCKET_TIMEOUT, f"retry of {envelope_id} not acknowledged"):
            return await self.socket.redeliver(envelope_id, reason, to=to)

    def event_callback(
        self, event: dict[str, Any], *, event_id: str | None = None, team_id: str | None = None
    ) -> dict[str, Any]:
        """The Events API payload around `event`, as HTTP mode POSTs it and Socket Mode wraps it."""
        self._event_count += 1
        event_id = event_id or f"Ev{self._event_count:010d}"
        return event_callback(self.identity, event, event_id=event_id, team_id=team_id)

    async def send_event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        team_id: str | None = None,
        to: Target = None,
    ) -> str:
        """Delivers `event` over Socket Mode (to one connection: see Target) and returns the
        envelope id once it is acked.

        A message or app_mention event is also stored in history (once per ts), since on
        Slack the message exists before its event arrives.
        """
        self._remember(event)
        thread = event.get("assistant_thread")
        if event.get("type") == "assistant_thread_started" and isinstance(thread, dict):
            self.open_assistant_thread(thread["channel_id"], thread["thread_ts"])
        payload = self.event_callback(event, event_id=event_id, team_id=team_id)
        envelope = events_api_envelope(
            payload, retry_attempt=retry_attempt, retry_reason=retry_reason
        )
        what = f"envelope {envelope['envelope_id']} not acknowledged"
        async with deadline(_SOCKET_TIMEOUT, what):
            return await self.socket.send_and_wait_ack(envelope, to=to)

    async def click_feedback(
        self, channel: str, ts: str, user: str, *, positive: bool = True
    ) -> dict[str, Any]:
        """`user` clicks 👍 (or 👎) under the bot's message `ts`: a block_actions payload over
        Socket Mode, returned once acknowledged (send it again with `send_interactive`)."""
        message = self.workspace.find(channel, ts)
        if message is None:
            raise AssertionError(f"no message {ts} in {channel}")
        payload = feedback_click(self.identity, message, user, positive=positive)
        await self.send_interactive(payload)
        return payload

    async def click_button(
        self, channel: str, ts: str, user: str, action_id: str
    ) -> dict[str, Any]:
        """`user` clicks the button `action_id` on the bot's message `ts` (an approval's
        Approve or Deny): returned once acknowledged (send it again with `send_interactive`)."""
        message = self.workspace.find(channel, ts)
        if message is None:
            raise AssertionError(f"no message {ts} in {channel}")
        payload = button_click(self.identity, message, user, action_id)
        await self.send_interactive(payload)
        return payload

    async def send_interactive(self, payload: dict[str, Any], *, to: Target = None) -> str:
        """Delivers an interactive payload (a click) and returns its envelope id once acked."""
        envelope = interactive_envelope(payload)
        async with deadline(_SOCKET_TIMEOUT, f"envelope {envelope['envelope_id']} not acked"):
            return await self.socket.send_and_wait_ack(envelope, to=to)

    def _remember(self, event: dict[str, Any]) -> None:
        if event.get("type") not in ("message", "app_mention") or "subtype" in event:
            return
        channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
        if not (isinstance(channel, str) and isinstance(ts, str) and isinstance(user, str)):
            return
        if self.workspace.find(channel, ts) is None:
            thread_ts = event.get("thread_ts")
            text = str(event.get("text", ""))
            self.add_message(channel, ts, user, text, thread_ts if thread_ts != ts else None)

    # HTTP.
    def _socket_url(self) -> str:
        host = self.base_url.removeprefix("http://")
        return f"ws://{host}socket?ticket={self.socket.issue_ticket()}"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await request_params(request)
        form_token = params.pop("token", None)
        token = bearer(request) or form_token
        self.calls.append(ApiCall(method, params, token, time.monotonic()))
        fault = self._faults.take(method)
        if fault is not None and not fault.after:
            return fault_response(request, method, fault)
        limited = self._rate_limit(method)
        if limited is not None:
            return limited
        handler = self.api.methods.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method", "req_method": method})
        refusal = auth_error(self.identity, method, token)
        if refusal is not None:
            return web.json_response({"ok": False, "error": refusal})
        try:
            body = handler(params)
        except SlackError as error:
            body = error.body
        if fault is not None:
            return fault_response(request, method, fault)
        return web.json_response(body)

    def _rate_limit(self, method: str) -> web.Response | None:
        """A sliding minute of chat.update calls; the 429 names when the oldest one ages out."""
        if method != "chat.update" or self.updates_per_minute is None:
            return None
        now = time.monotonic()
        while self._recent_updates and now - self._recent_updates[0] >= _MINUTE:
            self._recent_updates.popleft()
        if len(self._recent_updates) >= self.updates_per_minute:
            wait = _MINUTE - (now - self._recent_updates[0])
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}
            body = {"ok": False, "error": "ratelimited"}
            return web.json_response(body, status=429, headers=headers)
        self._recent_updates.append(now)
        return None

    async def _download(self, request: web.Request) -> web.Response:
        file_id, name = request.match_info["file_id"], request.match_info["name"]
        token = bearer(request)
        stored = self.workspace.files.get(file_id)
        status = 200 if token == self.bot_token else 403
        if stored is None or stored[0]["name"] != name:
            status = 404
        self.downloads.append(Download(file_id, name, token, status, time.monotonic()))
        if status != 200 or stored is None:
            return web.Response(status=status, text="Forbidden" if status == 403 else "Not Found")
        file, data = stored
        return web.Response(body=data, content_type=file["mimetype"])
